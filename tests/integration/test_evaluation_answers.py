"""Answers, not turns, with real worker processes, Postgres and Redis: an answer that grows is scored
again into its one row; the report and the transcript API group turns into answers; a database that
fails on the failure-write and on the report still ends the interview with a report; abandoned
interviews are ended and reported; a worker started before its broker waits for it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery.result import AsyncResult
from sqlalchemy import func, select, text, update

from agent.session.turns import TurnRecord
from db import queries
from db.embedded import EmbeddedRedis
from db.engine import unit_of_work
from db.models import Evaluation, Interview, Report, Turn
from evaluation.abandoned import AbandonOptions, finalize_abandoned
from evaluation.celery_app import CLOSE_TASK, SCORE_TASK, create_celery
from evaluation.config import CONFIG_ENV, QUEUE
from evaluation.workers import LocalWorkers, PoolOptions
from signaling.runtime import Runtime, worker_config
from tests.evaluation_answer_helpers import plain_interview
from tests.evaluation_data import QUALITY_SET
from tests.evaluation_helpers import EventWaiter, end_interview, is_report, worker_pool

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOOD = [item for item in QUALITY_SET if item.language == "en" and item.label == 2]


@pytest.fixture(scope="module")
async def pool(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalWorkers]:
    log_file: Path = tmp_path_factory.mktemp("workers") / "workers.log"
    options = PoolOptions(processes=1, nice=5, log_file=log_file, loglevel="INFO")
    async with worker_pool(runtime, options) as workers:
        yield workers


async def _turn(
    runtime: Runtime,
    interview_id: uuid.UUID,
    question_id: uuid.UUID | None,
    speaker: str,
    text_: str,
    *,
    kind: str,
    interrupted: bool = False,
    start_s: float = 0.0,
    end_s: float = 1.0,
) -> Turn:
    """A turn row exactly as the call writes it (``CallManager._persist_turn``)."""
    async with unit_of_work(runtime.sessions) as session:
        row = await queries.add_turn(
            session,
            interview_id=interview_id,
            question_id=question_id,
            speaker=speaker,
            text_=text_,
            started_s=start_s,
            ended_s=end_s,
            latencies={"kind": kind, "interrupted": interrupted},
            audio_path=None,
        )
    return row


def _record(row: Turn) -> TurnRecord:
    return TurnRecord(
        seq=row.seq,
        speaker="candidate",
        text=row.text,
        kind="answer",
        question_index=0,
        started_s=0,
        ended_s=1,
    )


def _is_score(turn_id: uuid.UUID, last_seq: int) -> Any:
    return lambda e: e["type"] == "score" and e["turn_id"] == str(turn_id) and e.get("last_seq") == last_seq


async def _evaluations(runtime: Runtime, interview_id: uuid.UUID) -> list[Evaluation]:
    async with unit_of_work(runtime.sessions) as session:
        rows = await session.scalars(select(Evaluation).where(Evaluation.interview_id == interview_id))
        return list(rows.all())


async def test_an_answer_resumed_after_a_cut_line_is_one_evaluation_scored_again(
    runtime: Runtime, pool: LocalWorkers, reviewer: httpx.AsyncClient
) -> None:
    assert runtime.evaluation is not None
    item, nxt = GOOD[0], GOOD[1]
    sentences = item.answer.split(". ")
    half = len(sentences) // 2
    part1, part2 = ". ".join(sentences[:half]) + ".", ". ".join(sentences[half:])
    interview_id, qids = await plain_interview(runtime, "en", [item.question, nxt.question])
    async with EventWaiter(runtime.redis, interview_id) as waiter:
        await _turn(runtime, interview_id, qids[0], "interviewer", item.question, kind="greeting")
        first = await _turn(runtime, interview_id, qids[0], "candidate", part1, kind="answer", end_s=8)
        runtime.evaluation.on_turn(interview_id, _record(first), first.id)
        v1 = await waiter.wait(_is_score(first.id, first.seq))
        assert v1["status"] == "done"
        assert v1["turn_ids"] == [str(first.id)]
        # A false end of turn: the interviewer began the next question, the candidate went on.
        cut = await _turn(
            runtime, interview_id, qids[1], "interviewer", "Thanks. Next", kind="next", interrupted=True
        )
        second = await _turn(
            runtime, interview_id, qids[0], "candidate", part2, kind="answer", start_s=9, end_s=20
        )
        runtime.evaluation.on_turn(interview_id, _record(second), second.id)
        v2 = await waiter.wait(_is_score(first.id, second.seq))
        assert v2["status"] == "done"
        assert v2["turn_ids"] == [str(first.id), str(second.id)]
        assert v2["answer_key"] == "0.0"
        rows = await _evaluations(runtime, interview_id)
        assert len(rows) == 1, "one evaluation per answer, keyed by its first turn"
        assert rows[0].turn_id == first.id
        assert (rows[0].last_seq, rows[0].turn_count) == (second.seq, 2)
        assert rows[0].attempts == 2
        assert rows[0].features["words"] > len(part1.split())  # the whole answer was measured

        # A redelivered or repeated task for either turn changes nothing: no new row, no new attempt.
        app = create_celery(runtime.redis_url)
        for turn_id in (first.id, second.id):
            sent = app.send_task(SCORE_TASK, args=[str(turn_id)], queue=QUEUE)
            result = await asyncio.to_thread(sent.get, timeout=120)
            assert result["status"] == "already"
        rows = await _evaluations(runtime, interview_id)
        assert [(r.attempts, r.last_seq) for r in rows] == [(2, second.seq)]

        await _turn(runtime, interview_id, qids[1], "interviewer", nxt.question, kind="next")
        third = await _turn(runtime, interview_id, qids[1], "candidate", nxt.answer, kind="answer", end_s=30)
        await end_interview(runtime, interview_id)
        runtime.evaluation.on_end(interview_id)  # the chord scores the answer never enqueued
        await waiter.wait(is_report(interview_id))

    resp = await reviewer.get(f"/api/interviews/{interview_id}/report")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["answers_total"] == 2
    assert report["status"] == "complete"
    assert [a["seqs"] for a in report["answers"]] == [[first.seq, second.seq], [third.seq]]
    assert report["answers"][0]["answer"].startswith(part1[:40])
    assert report["answers"][0]["question"] == item.question
    assert len(await _evaluations(runtime, interview_id)) == 2

    # The stored transcript says which answer each candidate turn belongs to; the cut line is marked.
    resp = await reviewer.get(f"/api/interviews/{interview_id}/turns")
    assert resp.status_code == 200, resp.text
    turns = {t["seq"]: t for t in resp.json()}
    assert turns[first.seq]["answer_seq"] == turns[second.seq]["answer_seq"] == first.seq
    assert turns[third.seq]["answer_seq"] == third.seq
    assert turns[cut.seq]["interrupted"] is True
    assert turns[cut.seq]["answer_seq"] is None


FAIL_EVALUATIONS = (
    """CREATE OR REPLACE FUNCTION test_fail_evaluations() RETURNS trigger AS $$
    BEGIN
      IF NEW.interview_id = '{id}'::uuid AND NEW.status IN ('done', 'failed') THEN
        RAISE EXCEPTION 'injected: evaluations are read-only for %', NEW.interview_id;
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER test_fail_evaluations BEFORE INSERT OR UPDATE ON evaluations
      FOR EACH ROW EXECUTE FUNCTION test_fail_evaluations()""",
)
FAIL_REPORTS = (
    """CREATE OR REPLACE FUNCTION test_fail_reports() RETURNS trigger AS $$
    BEGIN
      IF NEW.interview_id = '{id}'::uuid AND NOT (NEW.details ? 'fallback') THEN
        RAISE EXCEPTION 'injected: the full report cannot be written';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER test_fail_reports BEFORE INSERT OR UPDATE ON reports
      FOR EACH ROW EXECUTE FUNCTION test_fail_reports()""",
)


async def _sql(runtime: Runtime, statements: tuple[str, ...], interview_id: uuid.UUID) -> None:
    async with runtime.engine.begin() as conn:
        for statement in statements:
            # A uuid cannot be a bind parameter inside a function body: it is formatted in.
            await conn.execute(text(statement.replace("{id}", str(uuid.UUID(str(interview_id))))))


async def test_a_database_failing_on_the_failure_write_and_the_report_still_ends_with_a_report(
    runtime: Runtime, pool: LocalWorkers, reviewer: httpx.AsyncClient
) -> None:
    assert runtime.evaluation is not None
    item = GOOD[-1]
    interview_id, qids = await plain_interview(runtime, "en", [item.question])
    await _turn(runtime, interview_id, qids[0], "interviewer", item.question, kind="greeting")
    answer = await _turn(runtime, interview_id, qids[0], "candidate", item.answer, kind="answer", end_s=30)
    await end_interview(runtime, interview_id)
    await _sql(runtime, FAIL_EVALUATIONS, interview_id)
    await _sql(runtime, FAIL_REPORTS, interview_id)
    try:
        async with EventWaiter(runtime.redis, interview_id) as waiter:
            # The score cannot be stored, nor can its failure; then the full report cannot be stored.
            assert await runtime.evaluation.close_interview(interview_id)
            ready = await waiter.wait(is_report(interview_id))
    finally:
        async with runtime.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER test_fail_evaluations ON evaluations"))
            await conn.execute(text("DROP TRIGGER test_fail_reports ON reports"))
    assert ready["status"] == "partial"
    resp = await reviewer.get(f"/api/interviews/{interview_id}/report")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["status"] == "partial"
    assert "injected: the full report cannot be written" in report["fallback"]
    assert report["answers_total"] == 1
    assert report["answers"][0]["turn_id"] == str(answer.id)
    assert report["answers"][0]["status"] != "done"
    assert report["answers_failed"][0]["turn_id"] == str(answer.id)
    async with unit_of_work(runtime.sessions) as session:
        count = await session.scalar(
            select(func.count()).select_from(Report).where(Report.interview_id == interview_id)
        )
    assert count == 1


async def _backdate(runtime: Runtime, interview_id: uuid.UUID, days: int, *, state: str) -> None:
    async with unit_of_work(runtime.sessions) as session:
        past = func.now() - text(f"interval '{days} days'")
        await session.execute(
            update(Interview)
            .where(Interview.id == interview_id)
            .values(
                state=state, created_at=past, started_at=past, ended_at=past if state == "ended" else None
            )
        )
        await session.execute(update(Turn).where(Turn.interview_id == interview_id).values(created_at=past))


async def _state(runtime: Runtime, interview_id: uuid.UUID) -> tuple[str, bool]:
    async with unit_of_work(runtime.sessions) as session:
        interview = await queries.get_interview(session, interview_id)
        report = await session.scalar(select(Report.id).where(Report.interview_id == interview_id))
    assert interview is not None
    return interview.state, report is not None


async def test_abandoned_interviews_are_ended_and_reported_and_live_ones_are_not(runtime: Runtime) -> None:
    item = GOOD[0]
    made = [await plain_interview(runtime, "en", [item.question]) for _ in range(5)]
    gone, recent, connected, unreported, queued = (m[0] for m in made)
    for interview_id, qids in made:
        await _turn(runtime, interview_id, qids[0], "interviewer", item.question, kind="greeting")
        await _turn(runtime, interview_id, qids[0], "candidate", item.answer, kind="answer")
    # Backdated far beyond the grace used here: no interview of another test qualifies.
    for interview_id in (gone, connected, queued):
        await _backdate(runtime, interview_id, 30, state="live")
    await _backdate(runtime, unreported, 30, state="ended")
    handed: list[uuid.UUID] = []

    async def close(interview_id: uuid.UUID) -> bool:
        handed.append(interview_id)
        return interview_id == queued  # the queue takes one; the others find it unreachable

    options = AbandonOptions(grace_s=20 * 24 * 3600)
    done = await finalize_abandoned(runtime.sessions, connected={connected}, close=close, options=options)
    mine = {f.interview_id: f for f in done if f.interview_id in {m[0] for m in made}}
    assert set(mine) == {gone, unreported, queued}
    assert (mine[gone].ended_here, mine[gone].report) == (True, "written")
    assert (mine[unreported].ended_here, mine[unreported].report) == (False, "written")
    assert (mine[queued].ended_here, mine[queued].report) == (True, "queued")
    assert set(handed) >= {gone, unreported, queued}
    assert await _state(runtime, gone) == ("ended", True)
    assert await _state(runtime, unreported) == ("ended", True)
    assert await _state(runtime, queued) == ("ended", False)  # the queue writes it
    assert await _state(runtime, recent) == ("live", False)  # within the grace: may still rejoin
    assert await _state(runtime, connected) == ("live", False)  # its call is open
    async with unit_of_work(runtime.sessions) as session:
        report = await session.scalar(select(Report).where(Report.interview_id == gone))
    assert report is not None
    assert report.details["answers_total"] == 1
    assert report.status == "partial"  # its answer was never scored
    # A second sweep finds nothing more of these.
    again = await finalize_abandoned(runtime.sessions, connected={connected}, close=None, options=options)
    assert not {f.interview_id for f in again} & {gone, unreported, recent, connected}


def test_a_worker_started_before_its_broker_waits_and_then_serves(runtime: Runtime, tmp_path: Path) -> None:
    redis = EmbeddedRedis(tmp_path)
    config = worker_config(runtime.settings, database_url=runtime.database_url, redis_url=redis.url)
    log_file = tmp_path / "worker.log"
    args = [sys.executable, "-m", "evaluation.worker", "--concurrency=1", "--loglevel=INFO"]
    env = {**os.environ, CONFIG_ENV: config.to_json()}
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        _wait_for_line(log_file, "waiting for its broker", proc)
        assert proc.poll() is None, "the worker must wait, not exit"
        redis.start()
        app = create_celery(redis.url)
        missing = str(uuid.uuid4())
        result: AsyncResult = app.send_task(CLOSE_TASK, args=[missing], queue=QUEUE)
        assert result.get(timeout=300) == {"interview_id": missing, "status": "missing"}
    finally:
        proc.terminate()
        proc.wait(60)
        redis.stop()
    assert "reachable after" in log_file.read_text()


def _wait_for_line(path: Path, needle: str, proc: subprocess.Popen[bytes]) -> None:
    # The log is the worker's only output before it reaches a broker: there is nothing to
    # subscribe to, so the file is read until the line appears (bounded; no timing is asserted).
    for _ in range(1200):
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode}: {path.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never logged: {path.read_text()}")
