"""A room's two writes (a turn, a state save) as plain JSON entries, and the code that stores them.

The live outbox and the start-up replay of a dead process's journal run the same :func:`apply`, so
what is replayed is exactly what the call would have written. Both writes are idempotent: a turn
carries its row id (``db.queries.add_turn`` returns the row if it is already stored); a state save
sets absolute values. A replayed state save must also not undo what happened since the journal
was written (a rejoin on another server moved the interview on, the sweeper ended it): it is
skipped when the interview has ended or is past its question, or another process has owned the
room since (its fencing token is newer). A live room's writes carry the room's fencing token and
are refused (:class:`~agent.errors.StaleOwnerError`) once a newer owner holds the room.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.errors import StaleOwnerError
from agent.session.state import InterviewState
from db import queries
from db.cache import CacheNamespace, ReadThroughCache
from db.engine import unit_of_work
from db.models import Interview
from signaling import journal
from signaling.outbox import is_retryable

log = logging.getLogger(__name__)

TURN = "turn"
STATE = "state"


def journal_dir(data_dir: Path) -> Path:
    return data_dir / "journal"


def turn_entry(
    *,
    turn_id: uuid.UUID,
    interview_id: uuid.UUID,
    question_id: uuid.UUID | None,
    speaker: str,
    text: str,
    started_s: float | None,
    ended_s: float | None,
    latencies: dict[str, Any],
    audio_path: str | None,
    fence: int | None = None,
) -> dict[str, Any]:
    return {
        "fence": fence,
        "turn_id": str(turn_id),
        "interview_id": str(interview_id),
        "question_id": str(question_id) if question_id is not None else None,
        "speaker": speaker,
        "text": text,
        "started_s": started_s,
        "ended_s": ended_s,
        "latencies": latencies,
        "audio_path": audio_path,
    }


def state_entry(
    interview_id: uuid.UUID, state: InterviewState, *, fence: int | None = None
) -> dict[str, Any]:
    return {
        "fence": fence,
        "interview_id": str(interview_id),
        "status": state.status,
        "question_index": state.question_index,
        "followup_used": state.followup_used,
    }


@dataclass(frozen=True, slots=True)
class StoredTurn:
    turn_id: uuid.UUID
    seq: int
    recorded: bool


@dataclass(frozen=True, slots=True)
class Stores:
    """What the writes need: the database, and the cache a state save invalidates."""

    sessions: async_sessionmaker[AsyncSession]
    cache: ReadThroughCache
    questions_ns: CacheNamespace


async def _check_owner(session: AsyncSession, data: dict[str, Any]) -> None:
    """Refuse a live room's write once another process owns the room (its token is newer)."""
    fence = data.get("fence")
    interview_id = uuid.UUID(data["interview_id"])
    if fence is not None and not await queries.owns_room(session, interview_id, int(fence)):
        raise StaleOwnerError(f"interview {interview_id}: this process no longer owns the room")


async def store_turn(stores: Stores, data: dict[str, Any], *, replay: bool = False) -> StoredTurn:
    """Store a turn. A replayed one is stored whoever owns the room now: the candidate said it,
    and a turn only adds to the transcript (a state save is what moves the interview on)."""
    question_id = data["question_id"]
    async with unit_of_work(stores.sessions) as session:
        if not replay:
            await _check_owner(session, data)
        row = await queries.add_turn(
            session,
            turn_id=uuid.UUID(data["turn_id"]),
            interview_id=uuid.UUID(data["interview_id"]),
            question_id=uuid.UUID(question_id) if question_id is not None else None,
            speaker=data["speaker"],
            text_=data["text"],
            started_s=data["started_s"],
            ended_s=data["ended_s"],
            latencies=data["latencies"],
            audio_path=data["audio_path"],
        )
        return StoredTurn(row.id, row.seq, row.audio_path is not None)


async def store_state(stores: Stores, data: dict[str, Any], *, replay: bool = False) -> bool:
    """Save the interview's progress; False when a replayed save was skipped as out of date."""
    interview_id = uuid.UUID(data["interview_id"])
    async with unit_of_work(stores.sessions) as session:
        if not replay:
            await _check_owner(session, data)
        else:
            row = await session.scalar(
                select(Interview).where(Interview.id == interview_id).with_for_update()
            )
            if row is None or row.state == "ended" or row.current_question > data["question_index"]:
                return False
            fence = data.get("fence")
            if fence is not None and row.owner_token is not None and row.owner_token > fence:
                return False  # another process has run the room since
        await queries.save_progress(
            session,
            interview_id,
            state=data["status"],
            current_question=data["question_index"],
            followup_used=data["followup_used"],
        )
    await stores.cache.invalidate(stores.questions_ns, str(interview_id))
    return True


async def apply(stores: Stores, entry: journal.Entry) -> None:
    """Replay one journal entry."""
    if entry.kind == TURN:
        await store_turn(stores, entry.data, replay=True)
    elif entry.kind == STATE:
        await store_state(stores, entry.data, replay=True)
    else:
        raise ValueError(f"unknown journal entry kind {entry.kind!r}")


@dataclass(frozen=True, slots=True)
class Recovered:
    journals: int
    """Journals of dead processes taken up (each replayed and removed, or kept after an outage)."""
    stored: int
    """Writes stored (or found already stored) from them."""
    skipped: int
    """Writes that could never succeed (logged) and were dropped."""
    kept: int
    """Journals left in place because the database failed in the middle of their replay."""


Apply = Callable[[journal.Entry], Awaitable[None]]


async def replay(
    directory: Path,
    apply_entry: Apply,
    *,
    retryable: Callable[[BaseException], bool] = is_retryable,
) -> Recovered:
    """Replay, in order, every journal in ``directory`` whose process is gone, then remove it.

    Run at start-up, before the first call (and the first sweep for abandoned interviews, so a
    report is built with the replayed answers); ``apply_entry`` is :func:`apply` bound to the
    database. A database failure in the middle stops that journal's replay and leaves it for the
    next start (what was stored is found again then); an entry that can never succeed is logged
    and dropped."""
    journals = stored = skipped = kept = 0
    with journal.orphans(directory) as found:
        for orphan in found:
            journals += 1
            try:
                entries = orphan.entries()
            except OSError as exc:  # unreadable: never a reason not to start
                log.error("journal %s cannot be read (%s): kept for the next start", orphan.path, exc)
                kept += 1
                continue
            log.warning("replaying %d writes from %s (its process is gone)", len(entries), orphan.path)
            complete = True
            for entry in entries:
                try:
                    await apply_entry(entry)
                except Exception as exc:
                    if retryable(exc):
                        log.error("replay of %s stopped (%s): kept for the next start", orphan.path, exc)
                        complete = False
                        break
                    log.exception("journal %s: %s write %s dropped", orphan.path, entry.kind, entry.id)
                    skipped += 1
                    continue
                stored += 1
            if complete:
                orphan.remove()
            else:
                kept += 1
    if journals:
        log.warning(
            "write journals replayed: %d journals, %d writes stored, %d dropped, %d kept",
            journals,
            stored,
            skipped,
            kept,
        )
    return Recovered(journals, stored, skipped, kept)
