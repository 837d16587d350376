"""Queries used by the services. Each takes the caller's session: the unit of work is the caller's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Interview, Question, Resume, ResumeChunk


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
