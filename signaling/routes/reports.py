"""The interview report.

``GET /api/interviews/{id}/report``:
- 200 with the report once it is written (served through the read-through cache; the worker that
  writes a report invalidates it);
- 404 when there is no such interview;
- 409 while the interview has not ended (there is no report of a live interview; the page waits for
  the ``report_ready`` event instead of polling);
- 202 when the interview has ended and the report is being written, with how many answers are
  scored so far and ``Retry-After``.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from agent.errors import ConflictError, NotFoundError
from db.engine import unit_of_work
from evaluation import reports
from signaling.deps import RuntimeDep
from signaling.routes.auth import InterviewerDep
from signaling.runtime import Runtime
from signaling.schemas import ErrorOut

router = APIRouter(prefix="/api/interviews", tags=["reports"])


async def load_report(runtime: Runtime, interview_id: uuid.UUID) -> dict[str, Any] | None:
    async def loader() -> dict[str, Any] | None:
        async with unit_of_work(runtime.sessions) as session:
            return await reports.stored_report(session, interview_id)

    # A missing report is not cached (the loader returns None): the next read sees it once written.
    return await runtime.cache.get_or_load(runtime.report_ns, str(interview_id), loader)


@router.get(
    "/{interview_id}/report",
    responses={
        202: {"description": "the interview ended; the report is being written"},
        401: {"model": ErrorOut, "description": "interviewer sign-in required"},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut, "description": "the interview has not ended"},
    },
    summary="The interview's report: scores, strengths, improvements, per-answer feedback, timings",
)
async def get_report(runtime: RuntimeDep, _: InterviewerDep, interview_id: uuid.UUID) -> Any:
    report = await load_report(runtime, interview_id)
    if report is not None:
        return report
    async with unit_of_work(runtime.sessions) as session:
        state = await reports.progress(session, interview_id)
    if state is None:
        raise NotFoundError(f"interview {interview_id} not found")
    if state.state != "ended":
        raise ConflictError(
            f"interview {interview_id} has not ended (state {state.state}); the report is written at its end"
        )
    body = {
        "interview_id": str(interview_id),
        "ready": False,
        "state": state.state,
        "answers": state.answers,
        "scored": state.scored,
    }
    return JSONResponse(body, status_code=202, headers={"Retry-After": "2"})
