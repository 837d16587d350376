"""Queries used by the services. Each takes the caller's session: the unit of work is the caller's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Interview, Question, Resume, ResumeChunk, Turn


async def get_resume(session: AsyncSession, resume_id: uuid.UUID) -> Resume | None:
    return await session.get(Resume, resume_id)


async def get_interview(session: AsyncSession, interview_id: uuid.UUID) -> Interview | None:
    return await session.get(Interview, interview_id)


async def list_questions(session: AsyncSession, interview_id: uuid.UUID) -> Sequence[Question]:
    rows = await session.scalars(
        select(Question).where(Question.interview_id == interview_id).order_by(Question.ord)
    )
    return rows.all()


async def list_chunks(session: AsyncSession, resume_id: uuid.UUID) -> Sequence[ResumeChunk]:
    rows = await session.scalars(
        select(ResumeChunk).where(ResumeChunk.resume_id == resume_id).order_by(ResumeChunk.ord)
    )
    return rows.all()


async def nearest_chunks(
    session: AsyncSession,
    resume_id: uuid.UUID,
    embedding: Sequence[float] | Any,
    *,
    k: int,
    embedding_model: str,
    exclude: Sequence[uuid.UUID] = (),
) -> list[tuple[ResumeChunk, float]]:
    """The ``k`` chunks of one resume closest to ``embedding`` by cosine distance."""
    # With a filter on resume_id an HNSW scan alone could return fewer than k rows; iterative scans
    # (pgvector >= 0.8) keep searching until k rows pass the filter.
    await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    distance = ResumeChunk.embedding.cosine_distance(embedding)
    query = (
        select(ResumeChunk, distance.label("distance"))
        .where(ResumeChunk.resume_id == resume_id, ResumeChunk.embedding_model == embedding_model)
        .order_by(distance)
        .limit(k)
    )
    if exclude:
        query = query.where(ResumeChunk.id.not_in(list(exclude)))
    result = await session.execute(query)
    return [(row[0], float(row[1])) for row in result.all()]


async def add_turn(
    session: AsyncSession,
    *,
    interview_id: uuid.UUID,
    question_id: uuid.UUID | None,
    speaker: str,
    text_: str,
    started_s: float | None,
    ended_s: float | None,
    latencies: dict[str, Any],
    audio_path: str | None,
    turn_id: uuid.UUID | None = None,
) -> Turn:
    """Append a turn with the next sequence number of its interview.

    With ``turn_id`` (chosen by the caller before the first try) the insert cannot be duplicated:
    a retry after a commit whose answer was lost, or a replay of the write journal, finds the row
    and returns it instead of appending a second one with the next ``seq``."""
    # Serialize appends per interview so two writers cannot take the same seq (and the check for
    # an existing row cannot race its insert).
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"turns:{interview_id}"}
    )
    if turn_id is not None:
        existing: Turn | None = await session.scalar(select(Turn).where(Turn.id == turn_id))
        if existing is not None:
            return existing
    last = await session.scalar(select(func.max(Turn.seq)).where(Turn.interview_id == interview_id))
    turn = Turn(
        id=turn_id or uuid.uuid4(),
        interview_id=interview_id,
        question_id=question_id,
        seq=0 if last is None else last + 1,
        speaker=speaker,
        text=text_,
        started_s=started_s,
        ended_s=ended_s,
        latencies=latencies,
        audio_path=audio_path,
    )
    session.add(turn)
    await session.flush()
    return turn


async def list_turns(session: AsyncSession, interview_id: uuid.UUID) -> Sequence[Turn]:
    rows = await session.scalars(select(Turn).where(Turn.interview_id == interview_id).order_by(Turn.seq))
    return rows.all()


async def get_turn(session: AsyncSession, interview_id: uuid.UUID, seq: int) -> Turn | None:
    row: Turn | None = await session.scalar(
        select(Turn).where(Turn.interview_id == interview_id, Turn.seq == seq)
    )
    return row


async def save_progress(
    session: AsyncSession,
    interview_id: uuid.UUID,
    *,
    state: str,
    current_question: int,
    followup_used: bool,
) -> None:
    """Persist where the interview is, so a crash or a rejoin resumes at the same question."""
    values: dict[str, Any] = {
        "state": state,
        "current_question": current_question,
        "followup_used": followup_used,
    }
    if state == "live":
        values["started_at"] = func.coalesce(Interview.started_at, func.now())
    if state == "ended":
        values["ended_at"] = func.now()
    await session.execute(update(Interview).where(Interview.id == interview_id).values(**values))


async def claim_room(session: AsyncSession, interview_id: uuid.UUID, token: int) -> bool:
    """Make ``token`` the interview's owner token; False when a newer owner already holds it."""
    result = await session.execute(
        update(Interview)
        .where(Interview.id == interview_id)
        .where((Interview.owner_token.is_(None)) | (Interview.owner_token < token))
        .values(owner_token=token)
        .returning(Interview.id)
    )
    return result.scalar_one_or_none() is not None


async def owns_room(session: AsyncSession, interview_id: uuid.UUID, token: int) -> bool:
    """Whether ``token`` is still the owner's, holding the row against a claim until the
    transaction ends (a write checked here cannot land after a newer owner took over)."""
    stored = await session.scalar(
        select(Interview.owner_token).where(Interview.id == interview_id).with_for_update(read=True)
    )
    return stored is None or stored == token
