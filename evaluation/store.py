"""Evaluation's reads and writes. Every write is an upsert on a unique key (``evaluations.turn_id``,
``reports.interview_id``, ``answer_bank.turn_id``): a retried, redelivered or late task rewrites its
row and never adds a second one. Evaluations are per answer (``evaluation.answers``): keyed by the
answer's first turn, with ``last_seq`` saying which version of the answer was scored. Each function
takes the caller's session (one unit of work)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import case, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Evaluation, Interview, Question, Report, Resume, ResumeChunk, Turn
from evaluation.answers import Answer, TurnView, answer_by_seq, group_answers, view_of

TERMINAL = ("done", "failed")


async def interview_turns(session: AsyncSession, interview_id: uuid.UUID) -> list[TurnView]:
    """Every turn of the interview as a grouping view, in ``seq`` order."""
    query = (
        select(Turn, Question.ord)
        .outerjoin(Question, Question.id == Turn.question_id)
        .where(Turn.interview_id == interview_id)
        .order_by(Turn.seq)
    )
    return [_view(row[0], row[1]) for row in (await session.execute(query)).all()]


def _view(turn: Turn, question_index: int | None) -> TurnView:
    return view_of(
        seq=turn.seq,
        speaker=turn.speaker,
        text=turn.text,
        latencies=turn.latencies,
        question_index=question_index,
        turn_id=turn.id,
        started_s=turn.started_s,
        ended_s=turn.ended_s,
    )


@dataclass(frozen=True, slots=True)
class AnswerContext:
    answer: Answer
    first_turn: Turn
    """The answer's first turn: its id keys the evaluation, its question the answer bank."""
    interview: Interview
    question: str
    resume_vectors: npt.NDArray[np.float32] | None
    embedding_model: str | None


async def answer_context(
    session: AsyncSession, turn_id: uuid.UUID, embedding_model: str
) -> AnswerContext | None:
    """The whole answer ``turn_id`` belongs to, as stored now (None for an interviewer turn or a
    turn that is gone)."""
    turn = await session.get(Turn, turn_id)
    if turn is None:
        return None
    interview = await session.get(Interview, turn.interview_id)
    if interview is None:
        return None
    answer = answer_by_seq(group_answers(await interview_turns(session, interview.id))).get(turn.seq)
    if answer is None:
        return None
    first = await session.get(Turn, answer.first.turn_id)
    if first is None:
        return None
    asked = answer.question
    if not asked and first.question_id is not None:
        planned = await session.get(Question, first.question_id)
        asked = planned.text if planned is not None else ""
    rows = await session.scalars(
        select(ResumeChunk.embedding).where(
            ResumeChunk.resume_id == interview.resume_id, ResumeChunk.embedding_model == embedding_model
        )
    )
    vectors = [np.asarray(v, dtype=np.float32) for v in rows.all()]
    return AnswerContext(
        answer=answer,
        first_turn=first,
        interview=interview,
        question=asked or "",
        resume_vectors=np.stack(vectors) if vectors else None,
        embedding_model=embedding_model if vectors else None,
    )


def is_current(evaluation: Evaluation | None, answer: Answer) -> bool:
    """Whether a finished evaluation covers the answer as it stands (no turn joined since)."""
    if evaluation is None or evaluation.status not in TERMINAL:
        return False
    if evaluation.last_seq is None:
        return len(answer.turns) == 1
    return evaluation.last_seq >= answer.last_seq


async def lock_answer(session: AsyncSession, first_turn_id: uuid.UUID) -> Evaluation | None:
    """Serialize writers of one answer's evaluation for this transaction; returns the row as it is."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"evaluation:{first_turn_id}"}
    )
    row: Evaluation | None = await session.scalar(
        select(Evaluation)
        .where(Evaluation.turn_id == first_turn_id)
        .execution_options(populate_existing=True)
    )
    return row


def supersedes(evaluation: Evaluation | None, last_seq: int) -> bool:
    """Whether writing a version ending at ``last_seq`` may replace ``evaluation``: never an older
    version over a newer one (a late task). (A failure never replaces a finished score at all:
    ``tasks.record_failure`` keeps the score and notes the reason.)"""
    if evaluation is None or evaluation.last_seq is None:
        return True
    return last_seq >= evaluation.last_seq


async def mark_running(
    session: AsyncSession, *, turn_id: uuid.UUID, interview_id: uuid.UUID, worker: str
) -> int:
    """Record an attempt starting; returns the attempt number (1 for the first). A finished score
    stays ``done`` while a longer version of the answer is scored: the report keeps it meanwhile."""
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
            "status": case((Evaluation.status == "done", "done"), else_="running"),
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
    last_seq: int | None = None,
    turn_count: int | None = None,
) -> None:
    """Upsert the answer's evaluation (``turn_id`` = the answer's first turn). Callers that may race
    a newer version take :func:`lock_answer` first and check :func:`supersedes`."""
    values: dict[str, Any] = {
        "status": status,
        "scores": scores,
        "features": features,
        "overall": overall,
        "error": error,
        "last_seq": last_seq,
        "turn_count": turn_count,
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


async def answer_evaluations(session: AsyncSession, interview_id: uuid.UUID) -> dict[uuid.UUID, Evaluation]:
    """The interview's evaluations by the turn they are keyed on."""
    rows = await session.scalars(
        select(Evaluation)
        .join(Turn, Turn.id == Evaluation.turn_id)
        .where(Turn.interview_id == interview_id)
        .execution_options(populate_existing=True)
    )
    return {e.turn_id: e for e in rows.all()}


async def pending_turn_ids(session: AsyncSession, interview_id: uuid.UUID) -> list[uuid.UUID]:
    """One turn id per answer not scored as it stands (no finished evaluation, or a turn joined
    since): the answer's last turn, which the scoring task resolves to the whole answer."""
    answers = group_answers(await interview_turns(session, interview_id))
    evaluations = await answer_evaluations(session, interview_id)
    return [a.turns[-1].turn_id for a in answers if not is_current(evaluations.get(a.first.turn_id), a)]


@dataclass(frozen=True, slots=True)
class ReportInputs:
    interview: Interview
    resume: Resume | None
    turns: Sequence[Turn]
    evaluations: dict[uuid.UUID, Evaluation]
    views: Sequence[TurnView] = ()
    """The same turns as grouping views (question indexes resolved)."""
    planned: Mapping[int, str] = field(default_factory=dict)
    """The plan's question texts by index."""

    @property
    def answers(self) -> list[Answer]:
        return group_answers(self.views, self.planned)


async def report_inputs(session: AsyncSession, interview_id: uuid.UUID) -> ReportInputs | None:
    interview = await session.get(Interview, interview_id)
    if interview is None:
        return None
    resume = await session.get(Resume, interview.resume_id)
    query = (
        select(Turn, Question.ord)
        .outerjoin(Question, Question.id == Turn.question_id)
        .where(Turn.interview_id == interview_id)
        .order_by(Turn.seq)
    )
    rows = (await session.execute(query)).all()
    turns = [row[0] for row in rows]
    views = [_view(row[0], row[1]) for row in rows]
    questions = await session.scalars(select(Question).where(Question.interview_id == interview_id))
    planned = {q.ord: q.text for q in questions.all()}
    return ReportInputs(
        interview, resume, turns, await answer_evaluations(session, interview_id), views, planned
    )


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
