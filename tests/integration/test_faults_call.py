"""A real call rides out a Postgres restart: the session's own Postgres is stopped for 10 s while the
candidate answers, and every turn is still stored once, in order, and the interview ends.

The test stops the session's embedded Postgres (the tests of a session run one at a time, so
nothing else is using it meanwhile) and starts it again on the same socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.fault_servers import RestartablePostgres
from signaling import harness
from signaling.app import create_app
from signaling.background import serve_in_background
from signaling.calls import Room
from signaling.outbox import OUTBOX_WRITES
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.fixtures_paths import shared_fixture
from tests.resume_factory import EN_RESUME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSWERS = ("audio/en_librispeech_1089-134686-0000.flac", "audio/jfk.flac")
OUTAGE_S = 10.0


@pytest.fixture(scope="module")
async def server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    async with serve_in_background(create_app(settings, runtime=runtime), lifespan="off") as url:
        yield url
        if runtime.calls is not None:
            await runtime.calls.close()


def _turn_writes(outcome: str) -> float:
    return OUTBOX_WRITES.labels("turn", outcome)._value.get()  # type: ignore[no-any-return]


async def test_turns_spoken_through_a_postgres_restart_are_stored_once_in_order(
    server: str, settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    if settings.database_url is not None:
        pytest.skip(
            "the suite runs on an external Postgres (DATABASE_URL): this test restarts the embedded one"
        )
    assert runtime.calls is not None
    calls = runtime.calls
    pg = RestartablePostgres(settings.data_dir)
    pg.start()  # attaches to the session's running server
    resume = tmp_path / "jane.txt"
    resume.write_text(EN_RESUME)
    rooms: list[Room] = []
    before = {outcome: _turn_writes(outcome) for outcome in ("queued", "stored", "retried", "failed")}
    stored_before = before["stored"]

    async def restart_during_the_first_answer() -> None:
        while not calls.rooms:  # noqa: ASYNC110 - the call registers its room; no event to wait on
            await asyncio.sleep(0.05)
        room = next(iter(calls.rooms.values()))
        rooms.append(room)
        while _turn_writes("stored") <= stored_before:  # noqa: ASYNC110 - the greeting's row stored
            await asyncio.sleep(0.05)
        # The candidate is answering (10.4 s, from 0.3 s after the greeting's row): the database goes
        # down before the answer ends and comes back after its turn was queued.
        await asyncio.sleep(6.0)
        await asyncio.to_thread(pg.stop)
        try:
            await asyncio.sleep(OUTAGE_S)
        finally:
            await asyncio.to_thread(pg.resume)

    fault = asyncio.create_task(restart_during_the_first_answer())
    try:
        result = await harness.run(
            harness.HarnessOptions(
                base_url=server,
                resume=resume,
                answers=tuple(shared_fixture(a) for a in ANSWERS),
                follow_ups=False,
                step_timeout_s=180,
            )
        )
    finally:
        await fault
    assert result.ended, result.events
    after = {outcome: _turn_writes(outcome) - value for outcome, value in before.items()}
    assert after["retried"] > 0  # a write did meet the outage
    assert after["failed"] == 0
    (room,) = rooms
    assert room.outbox is not None
    assert room.outbox.failed == 0
    transcript = result.transcript
    assert [t["seq"] for t in transcript] == list(range(len(transcript)))
    assert len(transcript) == after["queued"] == after["stored"]  # every turn the session ended, stored
    keys = [(t["speaker"], t["text"], t["started_s"]) for t in transcript]
    assert len(set(keys)) == len(keys)  # none twice
    speakers = [t["speaker"] for t in transcript]
    assert speakers[:4] == ["interviewer", "candidate", "interviewer", "candidate"]
    assert speakers.count("candidate") == len(ANSWERS)
    turn_events = [e for e in result.events if e.get("type") == "turn"]
    assert [e["seq"] for e in turn_events] == sorted({e["seq"] for e in turn_events})  # in order, once
