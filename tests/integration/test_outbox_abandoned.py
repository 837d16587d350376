"""An interview whose candidate hangs up mid-way is finalized by the server's sweeper once the grace
period has passed, and not before: a real call (aiortc through the harness, real models), the real
finalizer (``evaluation.abandoned``) and the sweeper the server runs (``signaling.background``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from db.engine import unit_of_work
from db.models import Interview, Report
from evaluation.abandoned import AbandonOptions, Finalized, finalize_abandoned
from signaling import harness
from signaling.app import create_app
from signaling.background import AbandonedSweeper, SweepOptions, serve_in_background
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.fixtures_paths import shared_fixture
from tests.resume_factory import EN_RESUME

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSWER = "audio/en_librispeech_1089-134686-0000.flac"
GRACE_S = 3.0


@pytest.fixture(scope="module")
async def server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    async with serve_in_background(create_app(settings, runtime=runtime), lifespan="off") as url:
        yield url
        if runtime.calls is not None:
            await runtime.calls.close()


async def _state(runtime: Runtime, interview_id: uuid.UUID) -> tuple[str, bool]:
    async with unit_of_work(runtime.sessions) as session:
        interview = await session.get(Interview, interview_id)
        report = await session.scalar(select(Report.id).where(Report.interview_id == interview_id))
    assert interview is not None
    return interview.state, report is not None


async def test_an_interview_left_live_is_finalized_after_the_grace_period(
    server: str, runtime: Runtime, reviewer: httpx.AsyncClient, tmp_path: Path
) -> None:
    assert runtime.calls is not None
    calls = runtime.calls
    resume = tmp_path / "jane.txt"
    resume.write_text(EN_RESUME)

    # The session's database holds other tests' interviews, some left live on purpose: the sweeper
    # may end those too, but only this test's interview is counted.
    async with unit_of_work(runtime.sessions) as session:
        earlier = set(await session.scalars(select(Interview.id)))

    async def sweep(connected: Collection[uuid.UUID]) -> Sequence[Finalized]:
        # close=None: the report is written here, so the test needs no evaluation workers.
        done = await finalize_abandoned(
            runtime.sessions, connected=connected, close=None, options=AbandonOptions(grace_s=GRACE_S)
        )
        return [f for f in done if f.interview_id not in earlier]

    # Sweeping all through the call, as the server does (faster here).
    sweeper = AbandonedSweeper(
        sweep, connected=calls.connected_anywhere, options=SweepOptions(interval_s=0.2, grace_s=GRACE_S)
    )
    sweeper.start()
    try:
        # Two questions, one answer: the candidate answers the first and hangs up on the second.
        result = await harness.run(
            harness.HarnessOptions(
                base_url=server,
                resume=resume,
                answers=(shared_fixture(ANSWER),),
                question_count=2,
                follow_ups=False,
            )
        )
    finally:
        await sweeper.aclose()
    interview_id = uuid.UUID(result.interview_id)
    assert not result.ended
    assert "ran out of answer files" in result.reason
    assert sweeper.sweeps > 0
    assert sweeper.finalized == 0  # never during the call
    # The hang-up closes the room (the session saves its state on the way out); no event to wait on.
    while interview_id in calls.connected():  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    asked = [t for t in result.transcript if t["speaker"] == "interviewer"]
    assert len(asked) >= 2  # it had moved on to the second question
    assert await _state(runtime, interview_id) == ("live", False)

    # Just hung up: within the grace period a rejoin is welcome, so nothing is finalized.
    assert await sweeper.run_once() == []
    await asyncio.sleep(GRACE_S + 0.5)

    # Past it, a call open on this server still protects its interview...
    async def open_here() -> set[uuid.UUID]:
        return {interview_id}

    assert await AbandonedSweeper(sweep, connected=open_here).run_once() == []
    assert await _state(runtime, interview_id) == ("live", False)
    # ...and without one the interview is ended and its report written.
    done = await sweeper.run_once()
    assert [(f.interview_id, f.ended_here, f.report) for f in done] == [(interview_id, True, "written")]
    assert await _state(runtime, interview_id) == ("ended", True)
    report = await reviewer.get(f"/api/interviews/{interview_id}/report")
    assert report.status_code == 200, report.text
    assert await sweeper.run_once() == []  # once
