"""Evaluation's reads and writes. Every write is an upsert on a unique key (``evaluations.turn_id``,
``reports.interview_id``, ``answer_bank.turn_id``): a retried, redelivered or late task rewrites its
row and never adds a second one. Each function takes the caller's session (one unit of work)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Evaluation, Interview, Question, Report, Resume, ResumeChunk, Turn

TERMINAL = ("done", "failed")


@dataclass(frozen=True, slots=True)
class AnswerContext:
    turn: Turn
    interview: Interview
    question: str
    resume_vectors: npt.NDArray[np.float32] | None
    embedding_model: str | None


async def answer_context(
    session: AsyncSession, turn_id: uuid.UUID, embedding_model: str
) -> AnswerContext | None:
    turn = await session.get(Turn, turn_id)
    if turn is None:
        return None
    interview = await session.get(Interview, turn.interview_id)
    if interview is None:
        return None
    # The question actually asked is the interviewer's last turn before this answer (a follow-up
    # included); the planned question is the fallback when no interviewer turn was stored.
    asked = await session.scalar(
        select(Turn.text)
        .where(Turn.interview_id == turn.interview_id, Turn.seq < turn.seq, Turn.speaker == "interviewer")
        .order_by(Turn.seq.desc())
        .limit(1)
    )
    if not asked and turn.question_id is not None:
        planned = await session.get(Question, turn.question_id)
        asked = planned.text if planned is not None else None
    rows = await session.scalars(
        select(ResumeChunk.embedding).where(
            ResumeChunk.resume_id == interview.resume_id, ResumeChunk.embedding_model == embedding_model
        )
    )
    vectors = [np.asarray(v, dtype=np.float32) for v in rows.all()]
    return AnswerContext(
        turn=turn,
        interview=interview,
        question=asked or "",
        resume_vectors=np.stack(vectors) if vectors else None,
        embedding_model=embedding_model if vectors else None,
    )


async def evaluation_status(session: AsyncSession, turn_id: uuid.UUID) -> str | None:
    status: str | None = await session.scalar(select(Evaluation.status).where(Evaluation.turn_id == turn_id))
    return status


async def mark_running(
    session: AsyncSession, *, turn_id: uuid.UUID, interview_id: uuid.UUID, worker: str
) -> int:
    """Record an attempt starting; returns the attempt number (1 for the first)."""
    stmt = insert(Evaluation).values(
        id=uuid.uuid4(),
        turn_id=turn_id,
        interview_id=interview_id,
        status="running",
        scores={},
        features={},
        attempts=1,
        worker=worker,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[Evaluation.turn_id],
        set_={
            "status": "running",
            "attempts": Evaluation.attempts + 1,
            "worker": worker,
            "updated_at": func.now(),
        },
    ).returning(Evaluation.attempts)
    attempts: int = (await session.execute(upsert)).scalar_one()
    return attempts


async def save_evaluation(
    session: AsyncSession,
    *,
    turn_id: uuid.UUID,
    interview_id: uuid.UUID,
    status: str,
    scores: dict[str, Any],
    features: dict[str, Any],
    overall: float | None,
    error: str | None,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "scores": scores,
        "features": features,
        "overall": overall,
        "error": error,
    }
    stmt = insert(Evaluation).values(id=uuid.uuid4(), turn_id=turn_id, interview_id=interview_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Evaluation.turn_id], set_={**values, "updated_at": func.now()}
    )
    await session.execute(stmt)


async def candidate_turns(session: AsyncSession, interview_id: uuid.UUID) -> Sequence[Turn]:
    rows = await session.scalars(
        select(Turn).where(Turn.interview_id == interview_id, Turn.speaker == "candidate").order_by(Turn.seq)
    )
    return rows.all()


async def pending_turn_ids(session: AsyncSession, interview_id: uuid.UUID) -> list[uuid.UUID]:
    """Candidate turns without a finished (done or failed) evaluation."""
    rows = await session.scalars(
        select(Turn.id)
        .outerjoin(Evaluation, Evaluation.turn_id == Turn.id)
        .where(
            Turn.interview_id == interview_id,
            Turn.speaker == "candidate",
            (Evaluation.id.is_(None)) | (Evaluation.status.not_in(TERMINAL)),
        )
        .order_by(Turn.seq)
    )
    return list(rows.all())


@dataclass(frozen=True, slots=True)
class ReportInputs:
    interview: Interview
    resume: Resume | None
    turns: Sequence[Turn]
    evaluations: dict[uuid.UUID, Evaluation]


async def report_inputs(session: AsyncSession, interview_id: uuid.UUID) -> ReportInputs | None:
    interview = await session.get(Interview, interview_id)
    if interview is None:
        return None
    resume = await session.get(Resume, interview.resume_id)
    turns = (
        await session.scalars(select(Turn).where(Turn.interview_id == interview_id).order_by(Turn.seq))
    ).all()
    evaluations = (
        await session.scalars(
            select(Evaluation)
            .join(Turn, Turn.id == Evaluation.turn_id)
            .where(Turn.interview_id == interview_id)
        )
    ).all()
    return ReportInputs(interview, resume, turns, {e.turn_id: e for e in evaluations})


async def upsert_report(
    session: AsyncSession,
    *,
    interview_id: uuid.UUID,
    summary: str,
    scores: dict[str, Any],
    status: str,
    details: dict[str, Any],
) -> None:
    values: dict[str, Any] = {"summary": summary, "scores": scores, "status": status, "details": details}
    stmt = insert(Report).values(id=uuid.uuid4(), interview_id=interview_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Report.interview_id], set_={**values, "updated_at": func.now()}
    )
    await session.execute(stmt)


async def get_report(session: AsyncSession, interview_id: uuid.UUID) -> Report | None:
    row: Report | None = await session.scalar(select(Report).where(Report.interview_id == interview_id))
    return row
