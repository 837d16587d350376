"""Interviews nobody will finish: a candidate who hung up or vanished mid-way leaves the interview
``live`` with no call, and its report would answer 409 for ever. :func:`finalize_abandoned` ends
such interviews once a grace period has passed (long enough for a dropped candidate to rejoin and
carry on) and has their report written, partial if need be.

It also catches ended interviews whose report never got written (the report task's last resort
could not reach the database either), so every interview ends with a report.

The server calls it periodically (a sweeper in ``signaling``); it needs no models: scoring goes to
the evaluation queue through ``close``, and when the queue cannot be reached the report is written
here from what is stored. Activity is measured by the database's clock (turn rows' ``created_at``),
never a machine's wall clock, so servers with drifting clocks agree.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import unit_of_work
from db.models import Interview, Report, Turn
from evaluation.reports import write_fallback_report

log = logging.getLogger(__name__)

CloseHook = Callable[[uuid.UUID], Awaitable[bool]]
"""Enqueue an interview's close (score what is left, then write the report); False when it could
not be sent. ``EvaluationQueue.close_interview`` is one."""


@dataclass(frozen=True, slots=True)
class AbandonOptions:
    grace_s: float = 900.0
    """No call and no new turn for this long: the candidate is not coming back. Longer than a
    rejoin takes and than the call's own silence bound, so a live call is never ended by this."""
    states: tuple[str, ...] = ("live", "ready")
    """Interview states that mean "under way". ``planned`` is not: its candidate has not joined yet."""
    batch: int = 50
    """At most this many interviews per sweep (the next sweep takes the rest)."""

    def __post_init__(self) -> None:
        if self.grace_s <= 0:
            raise ValueError("grace_s must be positive")
        if self.batch < 1:
            raise ValueError("batch must be at least 1")


@dataclass(frozen=True, slots=True)
class Finalized:
    interview_id: uuid.UUID
    ended_here: bool
    """True when this sweep ended it (it was still live); False for an ended one without a report."""
    report: str
    """``queued`` (the evaluation queue scores what is left and writes it) or ``written`` (written
    here, partial, because the queue could not be reached)."""


async def finalize_abandoned(
    sessions: async_sessionmaker[AsyncSession],
    *,
    connected: Collection[uuid.UUID],
    close: CloseHook | None,
    options: AbandonOptions = AbandonOptions(),
) -> list[Finalized]:
    """End every abandoned interview and have its report written; returns what it did.

    ``connected``: the interviews with a call open on this server (never ended, whatever their
    idle time). ``close``: how to hand an interview to the evaluation queue, or None to write the
    report here. Safe to run from several servers at once: each interview is ended by one
    conditional update, and the report writes are upserts.
    """
    skip = list(connected)
    async with unit_of_work(sessions) as session:
        stale_live = await _idle_interviews(session, options, skip)
        unreported = await _ended_without_report(session, options, skip)
    done: list[Finalized] = []
    for interview_id in stale_live:
        async with unit_of_work(sessions) as session:
            ended = await _end(session, interview_id, options)
        if ended:
            log.info("interview %s abandoned (no call for %.0f s): ended", interview_id, options.grace_s)
            done.append(await _report(sessions, interview_id, close, ended_here=True))
    for interview_id in unreported:
        log.warning("interview %s ended without a report: writing it", interview_id)
        done.append(await _report(sessions, interview_id, close, ended_here=False))
    return done


def _idle_before(options: AbandonOptions) -> object:
    return func.now() - func.make_interval(0, 0, 0, 0, 0, 0, options.grace_s)


async def _idle_interviews(
    session: AsyncSession, options: AbandonOptions, skip: list[uuid.UUID]
) -> list[uuid.UUID]:
    last_turn = select(func.max(Turn.created_at)).where(Turn.interview_id == Interview.id).scalar_subquery()
    activity = func.greatest(last_turn, Interview.started_at, Interview.created_at)
    query = (
        select(Interview.id)
        .where(Interview.state.in_(options.states), activity < _idle_before(options))
        .order_by(Interview.created_at)
        .limit(options.batch)
    )
    if skip:
        query = query.where(Interview.id.not_in(skip))
    return list((await session.scalars(query)).all())


async def _ended_without_report(
    session: AsyncSession, options: AbandonOptions, skip: list[uuid.UUID]
) -> list[uuid.UUID]:
    ended = func.coalesce(Interview.ended_at, Interview.started_at, Interview.created_at)
    query = (
        select(Interview.id)
        .outerjoin(Report, Report.interview_id == Interview.id)
        .where(Interview.state == "ended", Report.id.is_(None), ended < _idle_before(options))
        .order_by(Interview.created_at)
        .limit(options.batch)
    )
    if skip:
        query = query.where(Interview.id.not_in(skip))
    return list((await session.scalars(query)).all())


async def _end(session: AsyncSession, interview_id: uuid.UUID, options: AbandonOptions) -> bool:
    # Conditional: an interview a rejoin or another sweeper moved on meanwhile is left alone.
    result = await session.execute(
        update(Interview)
        .where(Interview.id == interview_id, Interview.state.in_(options.states))
        .values(state="ended", ended_at=func.coalesce(Interview.ended_at, func.now()))
        .returning(Interview.id)
    )
    return result.first() is not None


async def _report(
    sessions: async_sessionmaker[AsyncSession],
    interview_id: uuid.UUID,
    close: CloseHook | None,
    *,
    ended_here: bool,
) -> Finalized:
    if close is not None:
        try:
            if await close(interview_id):
                return Finalized(interview_id, ended_here, "queued")
        except Exception as exc:  # a hook that raises must not stop the sweep of the others
            log.error("could not hand interview %s to the evaluation queue: %s", interview_id, exc)
    reason = "the evaluation queue could not be reached; answers not scored yet are left out"
    async with unit_of_work(sessions) as session:
        await write_fallback_report(session, interview_id, reason, force_partial=False)
    return Finalized(interview_id, ended_here, "written")
