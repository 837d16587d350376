"""Read-only queries behind the live pages: the room list, one interview's transcript with its
questions' positions, the answers' scores, and whether a report exists."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Evaluation, Interview, Question, Report, Resume, Turn


@dataclass(frozen=True, slots=True)
class InterviewRow:
    interview: Interview
    candidate_name: str | None
    report_ready: bool


@dataclass(frozen=True, slots=True)
class TurnRow:
    turn: Turn
    question_index: int | None


def _name(parsed: dict[str, Any] | None) -> str | None:
    header = (parsed or {}).get("header") or {}
    name = header.get("name") if isinstance(header, dict) else None
    return str(name) if name else None


async def recent_interviews(session: AsyncSession, *, since: datetime, limit: int = 50) -> list[InterviewRow]:
    """Interviews created since ``since`` or still live, newest first."""
    query = (
        select(Interview, Resume.parsed, Report.id)
        .join(Resume, Resume.id == Interview.resume_id)
        .outerjoin(Report, Report.interview_id == Interview.id)
        .where((Interview.created_at >= since) | (Interview.state == "live"))
        .order_by(Interview.created_at.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [InterviewRow(row[0], _name(row[1]), row[2] is not None) for row in rows]


async def interview_row(session: AsyncSession, interview_id: uuid.UUID) -> InterviewRow | None:
    query = (
        select(Interview, Resume.parsed, Report.id)
        .join(Resume, Resume.id == Interview.resume_id)
        .outerjoin(Report, Report.interview_id == Interview.id)
        .where(Interview.id == interview_id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return InterviewRow(row[0], _name(row[1]), row[2] is not None)


async def turns_with_questions(session: AsyncSession, interview_id: uuid.UUID) -> list[TurnRow]:
    query = (
        select(Turn, Question.ord)
        .outerjoin(Question, Question.id == Turn.question_id)
        .where(Turn.interview_id == interview_id)
        .order_by(Turn.seq)
    )
    return [TurnRow(row[0], row[1]) for row in (await session.execute(query)).all()]


async def evaluations(session: AsyncSession, interview_id: uuid.UUID) -> Sequence[Evaluation]:
    query = (
        select(Evaluation).join(Turn, Turn.id == Evaluation.turn_id).where(Turn.interview_id == interview_id)
    )
    return (await session.scalars(query)).all()
