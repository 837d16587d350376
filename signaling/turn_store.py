"""The one insert of a turn row that a retry cannot duplicate.

The row id is chosen by the caller before the first try. A retry after a commit whose answer was
lost (the connection died between COMMIT and its reply) finds that row and returns it instead of
appending a second one with the next ``seq``; ``(interview_id, seq)`` stays unique as before.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Turn


async def insert_turn_once(
    session: AsyncSession,
    *,
    turn_id: uuid.UUID,
    interview_id: uuid.UUID,
    question_id: uuid.UUID | None,
    speaker: str,
    text_: str,
    started_s: float | None,
    ended_s: float | None,
    latencies: dict[str, Any],
    audio_path: str | None,
) -> Turn:
    """Append the turn with the next ``seq`` of its interview, or return it if already stored."""
    # The same per-interview lock as db.queries.add_turn: appends (and this check) are serialized.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"turns:{interview_id}"}
    )
    existing: Turn | None = await session.scalar(select(Turn).where(Turn.id == turn_id))
    if existing is not None:
        return existing
    last = await session.scalar(select(func.max(Turn.seq)).where(Turn.interview_id == interview_id))
    turn = Turn(
        id=turn_id,
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
