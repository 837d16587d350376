"""The bank of excellent answers: an answer scoring above the threshold is kept with its embedding,
unless an entry for the same question is a near-duplicate (cosine > 0.95)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AnswerBankEntry


@dataclass(frozen=True, slots=True)
class BankDecision:
    stored: bool
    reason: str
    """``stored``, ``below threshold``, ``no question``, or ``near-duplicate of <id> (cosine x)``."""


async def offer(
    session: AsyncSession,
    *,
    question_id: uuid.UUID | None,
    turn_id: uuid.UUID,
    answer: str,
    score: float,
    embedding: Any,
    embedding_model: str,
    threshold: float,
    duplicate_cosine: float,
) -> BankDecision:
    if score <= threshold:
        return BankDecision(False, "below threshold")
    if question_id is None:
        return BankDecision(False, "no question")
    # Two workers banking answers to one question at once could both miss each other's entry:
    # a transaction-scoped lock per question serializes the check and the insert.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"bank:{question_id}"}
    )
    vector = [float(x) for x in embedding]
    distance = AnswerBankEntry.embedding.cosine_distance(vector)
    nearest = (
        await session.execute(
            select(AnswerBankEntry.id, distance.label("d"))
            .where(AnswerBankEntry.question_id == question_id, AnswerBankEntry.turn_id != turn_id)
            .order_by(distance)
            .limit(1)
        )
    ).first()
    if nearest is not None and 1.0 - float(nearest[1]) > duplicate_cosine:
        return BankDecision(False, f"near-duplicate of {nearest[0]} (cosine {1.0 - float(nearest[1]):.3f})")
    stmt = insert(AnswerBankEntry).values(
        id=uuid.uuid4(),
        question_id=question_id,
        turn_id=turn_id,
        text=answer,
        score=score,
        embedding=vector,
        embedding_model=embedding_model,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[AnswerBankEntry.turn_id],
            set_={"score": score, "text": answer, "embedding": vector},
        )
    )
    return BankDecision(True, "stored")
