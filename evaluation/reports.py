"""Reading a report back, for the API and the CLI: the stored report, or where the interview stands
when there is none yet. Writing the partial report of last resort."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Interview, Report
from evaluation import store
from evaluation.answers import group_answers
from evaluation.report import build_report, fallback_report

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportProgress:
    interview_id: uuid.UUID
    state: str
    answers: int
    """Answers given (consecutive candidate turns for one question count once)."""
    scored: int
    """Answers with a finished evaluation (done or failed) that covers them as they stand."""


async def stored_report(session: AsyncSession, interview_id: uuid.UUID) -> dict[str, Any] | None:
    row = await session.scalar(select(Report).where(Report.interview_id == interview_id))
    if row is None:
        return None
    return {**row.details, "ready": True, "created_at": row.created_at, "updated_at": row.updated_at}


async def progress(session: AsyncSession, interview_id: uuid.UUID) -> ReportProgress | None:
    interview = await session.get(Interview, interview_id)
    if interview is None:
        return None
    answers = group_answers(await store.interview_turns(session, interview_id))
    evaluations = await store.answer_evaluations(session, interview_id)
    scored = sum(store.is_current(evaluations.get(a.first.turn_id), a) for a in answers)
    return ReportProgress(interview_id, interview.state, len(answers), scored)


async def write_fallback_report(
    session: AsyncSession, interview_id: uuid.UUID, reason: str, *, force_partial: bool = True
) -> dict[str, Any] | None:
    """Write the best report that can still be made when the normal one failed: the full report
    from whatever is stored if it builds (marked ``partial``), else one with no scores that says
    why. None when the interview does not exist. Needs no models: the API process can run it.
    ``force_partial=False``: a report whose answers are all scored stays ``complete``."""
    interview = await session.get(Interview, interview_id)
    if interview is None:
        return None
    try:
        async with session.begin_nested():
            inputs = await store.report_inputs(session, interview_id)
            assert inputs is not None
            report = build_report(inputs)
            if force_partial or report["status"] != "complete":
                report["status"] = "partial"
                report["fallback"] = reason
    except Exception as exc:  # the stored data itself cannot be read or built from
        log.error("report of %s: building from stored answers failed too: %s", interview_id, exc)
        report = fallback_report(
            interview_id=interview_id,
            language=interview.language,
            target_role=interview.target_role,
            reason=reason,
            answers_total=await _answer_count(session, interview_id),
        )
    await store.upsert_report(
        session,
        interview_id=interview_id,
        summary=report["summary"],
        scores={"overall": report["overall"], "competencies": report["competencies"], "scale": "0-100"},
        status=report["status"],
        details=report,
    )
    return report


async def _answer_count(session: AsyncSession, interview_id: uuid.UUID) -> int:
    try:
        async with session.begin_nested():
            return len(group_answers(await store.interview_turns(session, interview_id)))
    except Exception:
        return 0
