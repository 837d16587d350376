"""A room's writes to Postgres, in order and retried: the turns and state saves of one live call.

Before this, a turn whose insert failed was logged and dropped (its transcript line, recording link,
live event and scoring with it), and a failed state save left ``live`` on an ended interview. Now a
call hands each write to its room's :class:`RoomOutbox` and goes on at once; one task per room
drains the queue in order, retrying a write that can succeed later (the database restarting, a
dropped connection) with exponential backoff and jitter. The retry budget counts from the first
failure of an outage, not per write: once an outage outlasts it, each queued write gets one more try
and is then given up (``on_failed`` is told: the call sends its watchers an error event), so a long outage
cannot hold a closing room for the budget times its queue length. Writes that cannot succeed by
retrying (a constraint, a bug) are given up at once.

Writes must be idempotent: a commit whose acknowledgement was lost is retried. Turns are (each
carries its row id, chosen before the first try); state saves are (they set absolute values). A
write with a ``coalesce`` key is skipped when a later one with the same key is already queued: after
an outage only the newest state is written, still after the turns queued before it.

With a :class:`~signaling.journal.Journal`, a write that comes with its ``entry`` (the same write as
plain JSON, see ``signaling.room_writes``) is made durable on disk before :meth:`RoomOutbox.put`
returns and marked done once stored, superseded, or refused for good; a write given up because
the outage outlasted the budget stays in the journal, and the next start of a server on this data
dir stores it. So the death of the process itself loses nothing that ``put`` accepted. A full
journal is not a crash: the write is kept in memory as before, and ``on_unjournaled`` is told.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from sqlalchemy import exc as sa_exc

from signaling.journal import Journal

log = logging.getLogger(__name__)

OUTBOX_WRITES = Counter(
    "interviewer_outbox_writes_total",
    "Room writes (turns, state saves) by outcome: queued, stored, retried (one per failed try), "
    "coalesced (superseded by a newer save), failed (given up), unjournaled (queued in memory only: "
    "the journal was full or unwritable)",
    ["kind", "outcome"],
)

# SQLSTATE classes worth retrying: connection exception, insufficient resources, operator
# intervention (admin shutdown, "the database system is starting up"), transaction rollback
# (serialization failure, deadlock).
_RETRYABLE_SQLSTATE_CLASSES = ("08", "53", "57", "40")

Failed = Callable[[str, str, BaseException], Awaitable[None]]
"""Told ``(kind, label, error)`` when a write is given up."""
Unjournaled = Callable[[str, str], Awaitable[None]]
"""Told ``(kind, label)`` when a write could not be journaled (full, or the disk failed): it is
queued in memory only, so the death of this process would lose it."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_delay_s: float = 0.2
    """Wait after the first failure; doubled after each next one."""
    max_delay_s: float = 5.0
    """Longest wait between two tries (a restarted database is noticed within this)."""
    budget_s: float = 120.0
    """How long an outage may last before queued writes are given up. Embedded Postgres restarts in
    a few seconds and a managed one fails over in tens; two minutes covers both with margin."""

    def __post_init__(self) -> None:
        if self.first_delay_s <= 0 or self.max_delay_s < self.first_delay_s:
            raise ValueError("need 0 < first_delay_s <= max_delay_s")
        if self.budget_s < 0:
            raise ValueError("budget_s must not be negative")

    def delays(self) -> Iterator[float]:
        """Backoff with jitter, so the rooms of one server do not retry in lock-step."""
        delay = self.first_delay_s
        while True:
            yield delay * random.uniform(0.5, 1.0)
            delay = min(delay * 2, self.max_delay_s)


def is_retryable(error: BaseException) -> bool:
    """Whether trying the same write again can succeed: the database unreachable, restarting or
    shutting down, the pool exhausted, a dropped connection; not a constraint or a bug."""
    if isinstance(error, OSError | TimeoutError | sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        state = _sqlstate(error)
        return state is not None and state.startswith(_RETRYABLE_SQLSTATE_CLASSES)
    # asyncpg's own errors when they are not wrapped (a connect that fails inside the pool).
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str):
        return state.startswith(_RETRYABLE_SQLSTATE_CLASSES)
    return type(error).__module__.startswith("asyncpg") and "Connection" in type(error).__name__


def _sqlstate(error: sa_exc.DBAPIError) -> str | None:
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        for attr in ("sqlstate", "pgcode"):
            value = getattr(candidate, attr, None)
            if isinstance(value, str):
                return value
    return None


@dataclass(slots=True)
class _Write:
    kind: str
    label: str
    write: Callable[[], Awaitable[Any]]
    after: Callable[[Any], Awaitable[None]] | None
    coalesce: str | None
    journal_id: str | None = None


class RoomOutbox:
    """One room's ordered writes. :meth:`put` never blocks (it raises only once the outbox is
    closed); :meth:`flush` waits until all queued writes are stored or given up."""

    def __init__(
        self,
        name: str,
        *,
        policy: RetryPolicy = RetryPolicy(),
        on_failed: Failed | None = None,
        retryable: Callable[[BaseException], bool] = is_retryable,
        journal: Journal | None = None,
        on_unjournaled: Unjournaled | None = None,
    ) -> None:
        self.name = name
        self._journal = journal
        self._on_unjournaled = on_unjournaled
        self._reports: set[asyncio.Task[None]] = set()
        self._policy = policy
        self._on_failed = on_failed
        self._retryable = retryable
        self._queue: collections.deque[_Write] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._failing_since: float | None = None
        self._exhausted = False
        """A write was given up in the current outage: the next ones get one try each."""
        self._closed = False
        self.stored = 0
        self.failed = 0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def put(
        self,
        kind: str,
        label: str,
        write: Callable[[], Awaitable[Any]],
        *,
        after: Callable[[Any], Awaitable[None]] | None = None,
        coalesce: str | None = None,
        entry: dict[str, Any] | None = None,
    ) -> None:
        """Queue ``write`` (idempotent; retried); ``after`` gets its result once, when it is stored
        (events, hooks: never retried, their errors are logged). ``entry``: the write as JSON for
        the journal, on disk before this returns (the journal's replay must do what ``write``
        does)."""
        if self._closed:
            raise RuntimeError(f"outbox {self.name} is closed")
        journal_id = self._journaled(kind, label, entry) if entry is not None else None
        self._queue.append(_Write(kind, label, write, after, coalesce, journal_id))
        OUTBOX_WRITES.labels(kind, "queued").inc()
        self._idle.clear()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(), name=f"outbox {self.name}")

    async def flush(self) -> None:
        await self._idle.wait()
        if self._reports:
            await asyncio.gather(*list(self._reports), return_exceptions=True)

    def _journaled(self, kind: str, label: str, entry: dict[str, Any]) -> str | None:
        if self._journal is None:
            return None
        try:
            journal_id = self._journal.append(kind, entry)
            why = "the journal is full"
        except OSError as exc:  # the disk: the call goes on, as it did before there was a journal
            journal_id, why = None, f"the journal cannot be written ({exc})"
        except (TypeError, ValueError) as exc:  # not JSON: a bug, but never the call's end
            journal_id, why = None, f"the entry is not JSON ({exc})"
        if journal_id is None:
            OUTBOX_WRITES.labels(kind, "unjournaled").inc()
            log.error("outbox %s: %s not journaled (%s): it is kept in memory only", self.name, label, why)
            if self._on_unjournaled is not None:
                task = asyncio.get_running_loop().create_task(self._report_unjournaled(kind, label))
                self._reports.add(task)
                task.add_done_callback(self._reports.discard)
        return journal_id

    async def _report_unjournaled(self, kind: str, label: str) -> None:
        assert self._on_unjournaled is not None
        try:
            await self._on_unjournaled(kind, label)
        except Exception:
            log.exception("outbox %s: reporting the unjournaled %s", self.name, label)

    def _done(self, item: _Write) -> None:
        if self._journal is not None and item.journal_id is not None:
            self._journal.done(item.journal_id)

    async def aclose(self) -> None:
        """Flush, then refuse new writes."""
        await self.flush()
        self._closed = True

    async def _drain(self) -> None:
        try:
            while self._queue:
                item = self._queue[0]
                if item.coalesce is not None and any(
                    later.coalesce == item.coalesce for later in list(self._queue)[1:]
                ):
                    OUTBOX_WRITES.labels(item.kind, "coalesced").inc()
                    self._done(item)  # the later save is journaled in its place
                else:
                    await self._deliver(item)
                self._queue.popleft()
        finally:
            self._task = None
            if self._queue:  # cancelled mid-way: what is journaled is stored by the next start
                kept = sum(1 for item in self._queue if item.journal_id is not None)
                log.error(
                    "outbox %s stopped with %d writes unsent (%d of them kept in the journal)",
                    self.name,
                    len(self._queue),
                    kept,
                )
                self._queue.clear()
            self._idle.set()

    async def _deliver(self, item: _Write) -> None:
        delays = self._policy.delays()
        tries = 0
        while True:
            tries += 1
            try:
                result = await item.write()
            except Exception as exc:
                now = time.monotonic()
                if not self._retryable(exc):
                    await self._give_up(item, exc, tries, 0.0)
                    return
                if self._failing_since is None:
                    self._failing_since = now
                delay = next(delays)
                outage_s = now - self._failing_since
                if self._exhausted or outage_s + delay > self._policy.budget_s:
                    await self._give_up(item, exc, tries, outage_s)
                    return
                OUTBOX_WRITES.labels(item.kind, "retried").inc()
                if tries == 1:
                    log.warning("outbox %s: %s failed (%s); retrying", self.name, item.label, _brief(exc))
                await asyncio.sleep(delay)
                continue
            if tries > 1:
                log.info("outbox %s: %s stored after %d tries", self.name, item.label, tries)
            self._failing_since = None
            self._exhausted = False
            self.stored += 1
            self._done(item)
            OUTBOX_WRITES.labels(item.kind, "stored").inc()
            if item.after is not None:
                try:
                    await item.after(result)
                except Exception:
                    log.exception("outbox %s: after %s stored", self.name, item.label)
            return

    async def _give_up(self, item: _Write, exc: Exception, tries: int, outage_s: float) -> None:
        self.failed += 1
        retryable = self._retryable(exc)
        self._exhausted = self._exhausted or retryable
        OUTBOX_WRITES.labels(item.kind, "failed").inc()
        kept = retryable and item.journal_id is not None
        if not retryable:
            self._done(item)  # a replay would fail the same way
        log.error(
            "outbox %s: %s given up after %d tries over %.1f s: %s%s",
            self.name,
            item.label,
            tries,
            outage_s,
            _brief(exc),
            " (kept in the journal: the next start stores it)" if kept else "",
            exc_info=not retryable,
        )
        if self._on_failed is not None:
            try:
                await self._on_failed(item.kind, item.label, exc)
            except Exception:
                log.exception("outbox %s: reporting the lost %s", self.name, item.label)


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
