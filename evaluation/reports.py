"""Reading a report back, for the API and the CLI: the stored report, or where the interview stands
when there is none yet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Evaluation, Interview, Report, Turn


@dataclass(frozen=True, slots=True)
class ReportProgress:
    interview_id: uuid.UUID
    state: str
    answers: int
    scored: int
    """Answers with a finished evaluation (done or failed)."""


async def stored_report(session: AsyncSession, interview_id: uuid.UUID) -> dict[str, Any] | None:
    row = await session.scalar(select(Report).where(Report.interview_id == interview_id))
    if row is None:
        return None
    return {**row.details, "ready": True, "created_at": row.created_at, "updated_at": row.updated_at}


async def progress(session: AsyncSession, interview_id: uuid.UUID) -> ReportProgress | None:
    interview = await session.get(Interview, interview_id)
    if interview is None:
        return None
    answers = await session.scalar(
        select(func.count())
        .select_from(Turn)
        .where(Turn.interview_id == interview_id, Turn.speaker == "candidate")
    )
    scored = await session.scalar(
        select(func.count())
        .select_from(Evaluation)
        .join(Turn, Turn.id == Evaluation.turn_id)
        .where(Turn.interview_id == interview_id, Evaluation.status.in_(("done", "failed")))
    )
    return ReportProgress(interview_id, interview.state, int(answers or 0), int(scored or 0))
