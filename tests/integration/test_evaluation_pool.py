"""The evaluation pool for real: Celery worker OS processes (prefork, models loaded once per process)
on the embedded Redis and Postgres, the real LLM and embedder. Turn rows are written the way the call
writes them and the call's hooks are fired; every wait is on a live event or a result, never a sleep."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from agent.session.turns import TurnRecord
from db.engine import unit_of_work
from db.models import AnswerBankEntry, Evaluation, Report
from evaluation.workers import LocalWorkers, PoolOptions
from signaling.runtime import Runtime
from tests.evaluation_data import QUALITY_SET
from tests.evaluation_helpers import (
    EventWaiter,
    add_exchange,
    add_labelled,
    end_interview,
    is_report,
    is_score,
    make_interview,
    worker_pool,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOOD = [item for item in QUALITY_SET if item.language == "en" and item.label == 2]


@pytest.fixture(scope="module")
async def pool(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalWorkers]:
    log_file: Path = tmp_path_factory.mktemp("workers") / "workers.log"
    options = PoolOptions(processes=2, nice=5, log_file=log_file, loglevel="INFO")
    async with worker_pool(runtime, options) as workers:
        yield workers


def _record(answer: str) -> TurnRecord:
    return TurnRecord(
        seq=0, speaker="candidate", text=answer, kind="answer", question_index=0, started_s=0.0, ended_s=1.0
    )


async def _rows(runtime: Runtime, model: type[Evaluation] | type[Report], interview_id: uuid.UUID) -> int:
    async with unit_of_work(runtime.sessions) as session:
        count = await session.scalar(
            select(func.count()).select_from(model).where(model.interview_id == interview_id)
        )
    return int(count or 0)


async def test_scores_arrive_during_the_interview_and_the_report_right_after_hang_up(
    runtime: Runtime, pool: LocalWorkers, client: httpx.AsyncClient, reviewer: httpx.AsyncClient
) -> None:
    assert runtime.evaluation is not None
    items = GOOD[:2]
    interview_id, qids = await make_interview(runtime, "en", [i.question for i in items])
    async with EventWaiter(runtime.redis, interview_id) as waiter:
        turn_ids = []
        for n, (item, qid) in enumerate(zip(items, qids, strict=True)):
            turn_id = await add_labelled(runtime, interview_id, qid, item, start_s=n * 60.0)
            turn_ids.append(turn_id)
            runtime.evaluation.on_turn(interview_id, _record(item.answer), turn_id)  # the CallManager hook
            # Scored while the interview is still live: before the next answer is even given.
            event = await waiter.wait(is_score(turn_id))
            assert event["status"] == "done"
            assert 0 <= event["overall"] <= 100
        # Idempotent by turn id: enqueuing an answer again sends nothing.
        assert await runtime.evaluation.enqueue_answer(turn_ids[0]) is False
        resp = await reviewer.get(f"/api/interviews/{interview_id}/report")
        assert resp.status_code == 409, resp.text

        await end_interview(runtime, interview_id)
        runtime.evaluation.on_end(interview_id)
        await waiter.wait(is_report(interview_id))

    assert (await client.get(f"/api/interviews/{interview_id}/report")).status_code == 401  # not signed in
    resp = await reviewer.get(f"/api/interviews/{interview_id}/report")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["status"] == "complete"
    assert report["answers_scored"] == 2
    assert report["answers_failed"] == []
    assert set(report["competencies"]) == {"relevance", "depth", "structure", "communication", "role_fit"}
    assert all(0 <= v <= 100 for v in report["competencies"].values())
    for answer, item in zip(report["answers"], items, strict=True):
        assert answer["status"] == "done"
        assert answer["evidence"]
        assert all(quote.rstrip("…")[:40] in item.answer for quote in answer["evidence"])
    assert report["stage_timings"]["next_question"]["count"] == 2
    assert report["models"]["names"]["llm"]
    assert report["models"]["names"]["embeddings"]
    assert await _rows(runtime, Evaluation, interview_id) == 2
    assert await _rows(runtime, Report, interview_id) == 1

    # The CLI prints the same report.
    out = await asyncio.to_thread(_cli_report, runtime, interview_id)
    assert "overall" in out
    assert "relevance" in out
    assert str(interview_id) in out


def _cli_report(runtime: Runtime, interview_id: uuid.UUID) -> str:
    # Its own process, as a user runs it, pointed at the test's database.
    env = {**os.environ, "DATABASE_URL": runtime.database_url}
    args = [sys.executable, "-m", "signaling.cli", "report", str(interview_id)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_worker_killed_mid_answer_still_gives_a_complete_report_without_duplicates(
    runtime: Runtime, pool: LocalWorkers
) -> None:
    assert runtime.evaluation is not None
    item = GOOD[0]
    interview_id, qids = await make_interview(runtime, "en", [item.question])
    async with EventWaiter(runtime.redis, interview_id) as waiter:
        turn_id = await add_labelled(runtime, interview_id, qids[0], item, start_s=0.0)
        await runtime.evaluation.enqueue_answer(turn_id)
        started = await waiter.wait(lambda e: e["type"] == "score_started" and e["turn_id"] == str(turn_id))
        pid = int(started["worker"].rsplit(":", 1)[1])
        assert pid in pool.pool_pids()
        os.kill(pid, signal.SIGKILL)  # mid-task: the LLM call takes over a second
        done = await waiter.wait(is_score(turn_id, "done"))
        await end_interview(runtime, interview_id)
        await runtime.evaluation.close_interview(interview_id)
        await waiter.wait(is_report(interview_id))
    assert done["overall"] is not None
    async with unit_of_work(runtime.sessions) as session:
        rows = (await session.scalars(select(Evaluation).where(Evaluation.turn_id == turn_id))).all()
        banked = await session.scalar(
            select(func.count()).select_from(AnswerBankEntry).where(AnswerBankEntry.turn_id == turn_id)
        )
        report = await session.scalar(select(Report).where(Report.interview_id == interview_id))
    assert len(rows) == 1
    assert rows[0].status == "done"
    assert rows[0].attempts >= 2, "the killed attempt and the one that ran again"
    assert int(banked or 0) <= 1
    assert report is not None
    assert report.status == "complete"
    assert report.details["answers_scored"] == 1


async def test_an_answer_that_cannot_be_scored_is_reported_not_swallowed(
    runtime: Runtime, pool: LocalWorkers, client: httpx.AsyncClient, reviewer: httpx.AsyncClient
) -> None:
    assert runtime.evaluation is not None
    good = GOOD[1]
    too_long = "I built the search service. " * 4000  # 112,000 characters: over the scoring limit
    interview_id, qids = await make_interview(runtime, "en", [good.question, "What else did you build?"])
    async with EventWaiter(runtime.redis, interview_id) as waiter:
        ok_id = await add_exchange(
            runtime, interview_id, qids[0], good.question, good.answer, start_s=0, duration_s=20
        )
        bad_id = await add_exchange(
            runtime, interview_id, qids[1], "What else?", too_long, start_s=60, duration_s=50
        )
        await end_interview(runtime, interview_id)
        # Ended, no report yet: 202 says it is on its way.
        resp = await reviewer.get(f"/api/interviews/{interview_id}/report")
        assert resp.status_code == 202
        assert resp.json()["ready"] is False
        # Nothing was enqueued during the call: the hang-up chord scores both, then writes the report.
        await runtime.evaluation.close_interview(interview_id)
        failed = await waiter.wait(is_score(bad_id, "failed"))
        await waiter.wait(is_report(interview_id))
    assert "exceeds the scoring limit" in failed["error"]
    resp = await reviewer.get(f"/api/interviews/{interview_id}/report")
    report = resp.json()
    assert resp.status_code == 200
    assert report["status"] == "partial"
    assert report["answers_scored"] == 1
    assert [f["turn_id"] for f in report["answers_failed"]] == [str(bad_id)]
    assert "exceeds the scoring limit" in report["answers_failed"][0]["error"]
    assert "could not be scored" in report["summary"]
    assert {a["turn_id"]: a["status"] for a in report["answers"]} == {
        str(ok_id): "done",
        str(bad_id): "failed",
    }
    assert await _rows(runtime, Evaluation, interview_id) == 2
