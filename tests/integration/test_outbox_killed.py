"""An answer outlives the serve process that heard it: a real ``interview serve`` takes a turn while
its Postgres is stopped, is SIGKILLed with the turn still unstored, Postgres comes back, a new
``serve`` on the same data dir starts, and the turn is in the database exactly once.

Its own Postgres and Redis (``bench.fault_servers``), as the other fault tests: stopping the
session's would fail whatever else runs at the time. The candidate is the fault bench's
:class:`~bench.fault_candidate.Candidate` (aiortc, a recorded answer played into the call).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.fault_candidate import Candidate
from bench.fault_servers import RestartablePostgres, RestartableRedis
from signaling.background import free_port
from signaling.journal import read_outstanding
from signaling.room_writes import journal_dir
from tests.fixtures_paths import shared_fixture
from tests.resume_factory import EN_RESUME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSWER = "audio/jfk.flac"
STEP_S = 600.0
"""Longest wait for one step (a server start loads every model; a turn is transcribed on a busy
machine): a bound against a hang, not a measurement."""


@dataclass
class Serve:
    proc: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def log(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: signal.Signals) -> None:
        """Signal it, wait for the exit, and read its log to the end."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(60)
        if self.reader is not None:
            self.reader.join(60)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def _start_serve(env: dict[str, str]) -> Serve:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "signaling.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    serve = Serve(proc, f"http://127.0.0.1:{port}")

    def read() -> None:  # the whole log, not only up to "ready": a pipe left unread blocks serve
        assert proc.stderr is not None
        for line in proc.stderr:
            serve.lines.append(line)
            if "ready: http" in line:
                serve.ready.set()
        serve.ready.set()  # exited: wake the waiter, which sees the exit

    serve.reader = threading.Thread(target=read, daemon=True)
    serve.reader.start()
    if not serve.ready.wait(STEP_S) or proc.poll() is not None:
        serve.stop(signal.SIGKILL)
        pytest.fail(f"serve did not become ready:\n{serve.log()[-4000:]}")
    return serve


@pytest.fixture
def servers() -> Iterator[tuple[Path, RestartablePostgres, RestartableRedis]]:
    root = Path(tempfile.mkdtemp(prefix="interviewer-killed-"))
    pg, redis = RestartablePostgres(root / "servers"), RestartableRedis(root / "servers")
    pg.start()
    redis.start()
    yield root, pg, redis
    redis.close()
    pg.close()
    shutil.rmtree(root, ignore_errors=True)


def _env(data_dir: Path, pg: RestartablePostgres, redis: RestartableRedis) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=pg.url,
        REDIS_URL=redis.url,
        INTERVIEWER_DATA_DIR=str(data_dir),
        INTERVIEWER_SECRET_KEY="killed-serve-test-" + "0" * 32,
        INTERVIEWER_EVALUATION="false",
        INTERVIEWER_EVAL_WORKERS="0",
        INTERVIEWER_RATE_LIMIT_PER_MINUTE="0",
        INTERVIEWER_INTAKE="open",
        INTERVIEWER_INTAKE_PER_ADDRESS_PER_HOUR="0",
        INTERVIEWER_INTAKE_GLOBAL_PER_HOUR="0",
        INTERVIEWER_TTS_PRESYNTHESIZE="false",
        INTERVIEWER_RECORD_CALLS="false",
    )
    return env


async def _sql(pg: RestartablePostgres, query: str, *args: Any) -> list[Any]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(pg.url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def _journaled_turns(data_dir: Path) -> list[dict[str, Any]]:
    turns = []
    for path in journal_dir(data_dir).glob("journal-*.jsonl"):
        turns += [e.data for e in read_outstanding(path) if e.kind == "turn"]
    return turns


async def test_a_turn_taken_while_postgres_is_down_survives_a_sigkill_of_serve(
    servers: tuple[Path, RestartablePostgres, RestartableRedis],
) -> None:
    answer = shared_fixture(ANSWER)
    root, pg, redis = servers
    data_dir = root / "data"
    env = _env(data_dir, pg, redis)
    first = _start_serve(env)
    candidate: Candidate | None = None
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=STEP_S) as http:
            r = await http.post("/api/resumes", files={"file": ("jane.txt", EN_RESUME.encode())})
            r.raise_for_status()
            r = await http.post(
                "/api/interviews",
                json={"resume_id": r.json()["id"], "question_count": 2, "follow_ups": False},
            )
            r.raise_for_status()
        created = r.json()
        interview_id = uuid.UUID(created["id"])
        candidate = Candidate(first.url, created["id"], created["join_token"], step_timeout_s=STEP_S)
        await candidate.join()
        assert await candidate.next_question() is not None  # the greeting's row is stored

        await asyncio.to_thread(pg.stop)
        await candidate.answer(answer)
        # The answer's turn ends (and the next question after it) with nowhere to be stored: the
        # only copy outside this process is its journal line.
        deadline = asyncio.get_running_loop().time() + STEP_S
        # Until the outbox has also met the outage (its first failed try is logged a moment after
        # the journal line is written: killed in between, the test saw no "retrying").
        while not (
            any(t["speaker"] == "candidate" for t in _journaled_turns(data_dir)) and "retrying" in first.log()
        ):
            assert asyncio.get_running_loop().time() < deadline, first.log()[-4000:]
            assert first.proc.poll() is None, first.log()[-4000:]
            await asyncio.sleep(0.2)
        journaled = _journaled_turns(data_dir)
    finally:
        first.stop(signal.SIGKILL)  # also when a step above failed
        if candidate is not None:
            await candidate.hangup()
    assert "retrying" in first.log()  # the outbox's writes did meet the outage

    await asyncio.to_thread(pg.resume)
    assert await _sql(pg, "SELECT id FROM turns WHERE speaker = 'candidate'") == []  # only journaled
    second = _start_serve(env)
    try:
        assert "write journals of stopped processes replayed: 1 journals" in second.log()
        rows = await _sql(
            pg,
            "SELECT id, seq, speaker, text, started_s FROM turns WHERE interview_id = $1 ORDER BY seq",
            interview_id,
        )
        ids = [str(r["id"]) for r in rows]
        for turn in journaled:
            assert ids.count(turn["turn_id"]) == 1, (turn, rows)
        answers = [r for r in rows if r["speaker"] == "candidate"]
        assert len(answers) == 1
        assert str(answers[0]["id"]) in {t["turn_id"] for t in journaled}
        assert answers[0]["text"].strip()
        keys = [(r["speaker"], r["text"], r["started_s"]) for r in rows]
        assert len(set(keys)) == len(keys)
        assert [r["seq"] for r in rows] == list(range(len(rows)))
        assert list(journal_dir(data_dir).glob("journal-*")) == []  # replayed, then removed
    finally:
        second.stop(signal.SIGINT)
    assert "Traceback" not in second.log(), second.log()[-4000:]
