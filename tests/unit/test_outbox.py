"""The room outbox: order, retries, coalesced state saves, giving up (with a report) and the
retry-or-not decision, what it leaves in its journal (a real file); and the abandoned-interview
sweeper's schedule. The writes are scripted callables: the outbox takes nothing else."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc

from signaling.background import AbandonedSweeper, SweepOptions
from signaling.journal import Journal, read_outstanding
from signaling.outbox import RetryPolicy, RoomOutbox, is_retryable

FAST = RetryPolicy(first_delay_s=0.001, max_delay_s=0.004, budget_s=60.0)


class _Down(sa_exc.OperationalError):
    def __init__(self) -> None:
        super().__init__("INSERT ...", {}, ConnectionRefusedError("connection refused"))


class Database:
    """Stores values; fails the next ``outage`` tries with a connection error."""

    def __init__(self, outage: int = 0) -> None:
        self.rows: list[str] = []
        self.tries: list[str] = []
        self.outage = outage

    def writer(self, value: str) -> Callable[[], Awaitable[str]]:
        async def write() -> str:
            self.tries.append(value)
            if self.outage > 0:
                self.outage -= 1
                raise _Down()
            self.rows.append(value)
            return value

        return write


async def test_writes_land_in_order_after_an_outage() -> None:
    db = Database(outage=5)
    announced: list[str] = []

    async def after(value: str) -> None:
        announced.append(value)

    box = RoomOutbox("t", policy=FAST)
    for value in ("a", "b", "c"):
        box.put("turn", value, db.writer(value), after=after)
    await box.flush()
    assert db.rows == ["a", "b", "c"]
    assert announced == ["a", "b", "c"]  # once each, after the write
    assert db.tries == ["a"] * 6 + ["b", "c"]  # nothing overtook the failing write
    assert (box.stored, box.failed, box.pending) == (3, 0, 0)


async def test_only_the_newest_queued_state_is_written_and_in_its_place() -> None:
    db = Database()
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()
        db.rows.append("turn 0")

    box = RoomOutbox("t", policy=FAST)
    box.put("turn", "turn 0", blocked)
    box.put("state", "s1", db.writer("state 1"), coalesce="state")
    box.put("turn", "turn 1", db.writer("turn 1"))
    box.put("state", "s2", db.writer("state 2"), coalesce="state")
    box.put("state", "s3", db.writer("state 3"), coalesce="state")
    gate.set()
    await box.flush()
    assert db.rows == ["turn 0", "turn 1", "state 3"]


async def test_a_write_that_cannot_succeed_is_given_up_at_once_and_reported() -> None:
    db = Database()
    lost: list[tuple[str, str, str]] = []

    async def broken() -> None:
        db.tries.append("bad")
        raise sa_exc.IntegrityError("INSERT ...", {}, ValueError("duplicate key"))

    async def on_failed(kind: str, label: str, error: BaseException) -> None:
        lost.append((kind, label, type(error).__name__))

    box = RoomOutbox("t", policy=FAST, on_failed=on_failed)
    box.put("turn", "bad", broken)
    box.put("turn", "good", db.writer("good"))
    await box.flush()
    assert db.tries == ["bad", "good"]
    assert lost == [("turn", "bad", "IntegrityError")]
    assert db.rows == ["good"]
    assert (box.stored, box.failed) == (1, 1)


async def test_after_the_budget_each_queued_write_gets_one_try_then_later_ones_succeed() -> None:
    db = Database(outage=10_000)
    lost: list[str] = []

    async def on_failed(kind: str, label: str, error: BaseException) -> None:
        lost.append(label)

    box = RoomOutbox(
        "t", policy=RetryPolicy(first_delay_s=0.001, max_delay_s=0.002, budget_s=0.02), on_failed=on_failed
    )
    for value in ("a", "b", "c"):
        box.put("turn", value, db.writer(value))
    await box.flush()
    assert lost == ["a", "b", "c"]
    assert db.tries.count("a") > 1
    assert db.tries.count("b") == db.tries.count("c") == 1  # the outage already outlasted the budget

    db.outage = 0  # the database is back: the outage clock restarts with the next failure
    box.put("turn", "d", db.writer("d"))
    await box.flush()
    assert db.rows == ["d"]


async def test_a_closed_outbox_refuses_writes() -> None:
    box = RoomOutbox("t", policy=FAST)
    await box.aclose()
    with pytest.raises(RuntimeError):
        box.put("turn", "late", Database().writer("late"))


def test_which_errors_are_retried() -> None:
    assert is_retryable(_Down())
    assert is_retryable(ConnectionRefusedError())
    assert is_retryable(TimeoutError())
    assert is_retryable(sa_exc.TimeoutError("pool exhausted"))
    assert not is_retryable(sa_exc.IntegrityError("INSERT", {}, ValueError("duplicate key")))
    assert not is_retryable(sa_exc.DataError("INSERT", {}, ValueError("integer out of range")))
    assert not is_retryable(TypeError("bug"))


def test_policy_is_checked_and_backs_off_to_its_ceiling() -> None:
    with pytest.raises(ValueError, match="first_delay_s"):
        RetryPolicy(first_delay_s=0)
    with pytest.raises(ValueError, match="max_delay_s"):
        RetryPolicy(first_delay_s=2, max_delay_s=1)
    delays = RetryPolicy(first_delay_s=0.1, max_delay_s=0.8).delays()
    values = [next(delays) for _ in range(8)]
    assert all(0.05 <= v <= 0.8 for v in values)
    assert max(values[5:]) > 0.3
    assert values[0] <= 0.1


# --- the journal behind the outbox ----------------------------------------------------------------


def _journaled(journal: Journal) -> list[str]:
    return [str(e.data["v"]) for e in read_outstanding(journal.path)]


async def test_a_write_is_on_disk_when_put_returns_and_done_once_stored(tmp_path: Path) -> None:
    db = Database(outage=3)
    journal = Journal.create(tmp_path)
    box = RoomOutbox("t", policy=FAST, journal=journal)
    box.put("turn", "a", db.writer("a"), entry={"v": "a"})
    box.put("state", "s", db.writer("s"), entry={"v": "s"}, coalesce="state")
    assert _journaled(journal) == ["a", "s"]  # before the drain has run at all
    await box.flush()
    assert db.rows == ["a", "s"]
    assert _journaled(journal) == []
    assert journal.outstanding == 0
    journal.close()


async def test_the_journal_keeps_what_an_outage_gave_up_and_drops_the_rest(tmp_path: Path) -> None:
    db = Database(outage=10_000)
    journal = Journal.create(tmp_path)

    async def broken() -> None:
        raise sa_exc.IntegrityError("INSERT ...", {}, ValueError("duplicate key"))

    box = RoomOutbox(
        "t", policy=RetryPolicy(first_delay_s=0.001, max_delay_s=0.002, budget_s=0.02), journal=journal
    )
    box.put("turn", "bad", broken, entry={"v": "bad"})
    box.put("state", "s1", db.writer("s1"), entry={"v": "s1"}, coalesce="state")
    box.put("turn", "t1", db.writer("t1"), entry={"v": "t1"})
    box.put("state", "s2", db.writer("s2"), entry={"v": "s2"}, coalesce="state")
    await box.flush()
    assert box.failed == 3  # bad at once; t1 and s2 past the budget
    # A replay would fail the bad write the same way, and s1 is superseded by s2: both done.
    assert _journaled(journal) == ["t1", "s2"]
    journal.close()
    assert journal.path.exists()  # left for the next start


async def test_a_full_journal_is_reported_and_the_write_still_lands(tmp_path: Path) -> None:
    db = Database()
    journal = Journal.create(tmp_path, max_bytes=200)
    told: list[tuple[str, str]] = []

    async def unjournaled(kind: str, label: str) -> None:
        told.append((kind, label))

    box = RoomOutbox("t", policy=FAST, journal=journal, on_unjournaled=unjournaled)
    box.put("turn", "long", db.writer("long"), entry={"v": "x" * 300})
    box.put("turn", "short", db.writer("short"), entry={"v": "short"})
    await box.flush()
    assert told == [("turn", "long")]
    assert db.rows == ["long", "short"]
    assert journal.refused == 1
    journal.close()


async def test_a_journal_that_cannot_be_written_does_not_stop_the_call(tmp_path: Path) -> None:
    db = Database()
    journal = Journal.create(tmp_path)
    journal.close()  # every append now fails as a dead disk would
    told: list[str] = []

    async def unjournaled(kind: str, label: str) -> None:
        told.append(label)

    box = RoomOutbox("t", policy=FAST, journal=journal, on_unjournaled=unjournaled)
    box.put("turn", "a", db.writer("a"), entry={"v": "a"})
    await box.flush()
    assert (told, db.rows) == (["a"], ["a"])


# --- the abandoned-interview sweeper's own rules (the finalizer is a recording stand-in) ----------


class RecordingSweep:
    def __init__(self, fail_times: int = 0) -> None:
        self.calls: list[set[uuid.UUID]] = []
        self.fail_times = fail_times

    async def __call__(self, connected: Collection[uuid.UUID]) -> Sequence[uuid.UUID]:
        self.calls.append(set(connected))
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ConnectionRefusedError("database down")
        return []


async def test_the_sweeper_protects_a_call_it_saw_for_the_grace_period() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    now: set[uuid.UUID] = {a, b}
    sweep = RecordingSweep()

    async def connected() -> set[uuid.UUID]:
        return now

    sweeper = AbandonedSweeper(sweep, connected=connected, options=SweepOptions(grace_s=0.05))
    await sweeper.run_once()
    now = {b}  # a hung up: still protected within the grace period, whatever its last turn says
    await sweeper.run_once()
    await asyncio.sleep(0.1)
    await sweeper.run_once()  # past it, a is the finalizer's to judge
    assert sweep.calls == [{a, b}, {a, b}, {b}]
    assert sweeper.sweeps == 3


async def test_a_sweep_is_skipped_while_the_live_rooms_cannot_be_read() -> None:
    # Redis down: no process's rooms are known, so none may be taken for abandoned.
    async def unknown() -> set[uuid.UUID]:
        raise ConnectionError("redis is down")

    sweep = RecordingSweep()
    with pytest.raises(ConnectionError):
        await AbandonedSweeper(sweep, connected=unknown).run_once()
    assert sweep.calls == []


async def test_a_failed_sweep_does_not_stop_the_next() -> None:
    sweep = RecordingSweep(fail_times=2)

    async def nobody() -> frozenset[uuid.UUID]:
        return frozenset()

    sweeper = AbandonedSweeper(sweep, connected=nobody, options=SweepOptions(interval_s=0.001))
    sweeper.start()
    while sweeper.sweeps < 2:  # noqa: ASYNC110 - the loop's own counter, no event to wait on
        await asyncio.sleep(0.005)
    await sweeper.aclose()
    assert len(sweep.calls) >= 4  # two failures, then sweeps that succeeded
