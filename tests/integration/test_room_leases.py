"""Room ownership across processes: the Redis lease and the Postgres fence, for real.

Two ``RoomLeases`` with their own process ids stand for two ``serve`` processes sharing one Redis
and one Postgres (the processes themselves, behind the proxy, are in ``test_scale_out``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from agent.errors import StaleOwnerError
from agent.session.state import InterviewState
from db import queries
from db.engine import unit_of_work
from signaling import room_writes
from signaling.leases import LeaseOptions, RoomLeases
from signaling.runtime import Runtime
from tests.interview_rows import make_interview

pytestmark = [pytest.mark.integration]

FAST = LeaseOptions(ttl_s=2.0, renew_every_s=0.2, handover_wait_s=3.0)


class Process:
    """One process's leases and the rooms it was told to stop."""

    def __init__(self, runtime: Runtime, name: str, *, hand_back_after_s: float = 0.0) -> None:
        self.leases = RoomLeases(runtime.redis, process=f"{name}-{uuid.uuid4().hex[:6]}", options=FAST)
        self.lost: list[tuple[uuid.UUID, int]] = []
        self.hand_back_after_s = hand_back_after_s
        self.held: dict[uuid.UUID, object] = {}

    async def on_lost(self, interview_id: uuid.UUID, token: int) -> None:
        # What the call manager does: stop the room (flushing takes a moment), then let go.
        self.lost.append((interview_id, token))
        await asyncio.sleep(self.hand_back_after_s)
        lease = self.held.pop(interview_id, None)
        if lease is not None:
            await self.leases.release(lease)  # type: ignore[arg-type]


@pytest.fixture
async def two(runtime: Runtime) -> AsyncIterator[tuple[Process, Process]]:
    a, b = Process(runtime, "a", hand_back_after_s=0.3), Process(runtime, "b")
    await a.leases.start(a.on_lost)
    await b.leases.start(b.on_lost)
    yield a, b
    await a.leases.aclose()
    await b.leases.aclose()


async def test_a_join_elsewhere_takes_the_room_over_after_the_old_owner_lets_go(
    two: tuple[Process, Process],
) -> None:
    a, b = two
    interview_id = uuid.uuid4()
    first = await a.leases.acquire(interview_id)
    a.held[interview_id] = first
    assert not first.took_over
    assert interview_id in await b.leases.live()  # every process sees every room

    started = time.monotonic()
    second = await b.leases.acquire(interview_id)
    waited = time.monotonic() - started
    assert second.took_over
    assert second.previous is not None
    assert second.previous.process == a.leases.process
    assert second.token > first.token  # the fence only grows
    assert a.lost == [(interview_id, first.token)]
    # It waited for the old owner's flush (0.3 s here), not the whole handover bound.
    assert 0.25 <= waited < FAST.handover_wait_s
    assert await b.leases.still_owned(second)
    assert not await a.leases.still_owned(first)
    assert b.leases.takeovers == 1


async def test_a_killed_owner_is_not_waited_for(runtime: Runtime) -> None:
    dead = RoomLeases(runtime.redis, process="dead-" + uuid.uuid4().hex[:6], options=FAST)
    await dead.start(lambda *_: asyncio.sleep(0))
    interview_id = uuid.uuid4()
    await dead.acquire(interview_id)
    await dead.aclose()  # stops beating, as SIGKILL would (its lease stays until it expires)

    alive = RoomLeases(runtime.redis, process="alive-" + uuid.uuid4().hex[:6], options=FAST)
    await alive.start(lambda *_: asyncio.sleep(0))
    try:
        started = time.monotonic()
        lease = await alive.acquire(interview_id)
        assert lease.took_over
        assert time.monotonic() - started < 1.0
    finally:
        await alive.aclose()


async def test_an_owner_that_misses_the_takeover_message_finds_out_at_renewal(
    two: tuple[Process, Process], runtime: Runtime
) -> None:
    a, _b = two
    interview_id = uuid.uuid4()
    first = await a.leases.acquire(interview_id)
    # Someone else's lease written over a's without a message (as if a missed it while Redis was
    # unreachable): a's next renewal must notice.
    await runtime.redis.set(f"rooms:owner:{interview_id}", '{"process": "x", "token": 999}', px=5000)
    deadline = time.monotonic() + 5
    while not a.lost and time.monotonic() < deadline:  # noqa: ASYNC110 - renewal runs on its own
        await asyncio.sleep(0.05)
    assert a.lost == [(interview_id, first.token)]


async def test_two_joins_racing_on_two_processes_end_with_one_owner(
    two: tuple[Process, Process], runtime: Runtime
) -> None:
    a, b = two
    interview_id, _ = await make_interview(runtime)
    la, lb = await asyncio.gather(a.leases.acquire(interview_id), b.leases.acquire(interview_id))

    async def claim(token: int) -> bool:
        async with unit_of_work(runtime.sessions) as session:
            return await queries.claim_room(session, interview_id, token)

    # Whichever claims first, only the newest token holds the room in the end.
    newest, oldest = (la, lb) if la.token > lb.token else (lb, la)
    assert await claim(newest.token)
    assert not await claim(oldest.token)
    owner = await a.leases.owner(interview_id)
    assert owner is not None
    assert owner.token == newest.token


async def test_a_stale_owner_cannot_write_but_its_journal_keeps_the_answer(runtime: Runtime) -> None:
    interview_id, _ = await make_interview(runtime)
    stores = room_writes.Stores(runtime.sessions, runtime.cache, runtime.questions_ns)
    async with unit_of_work(runtime.sessions) as session:
        assert await queries.claim_room(session, interview_id, 1)
    state = InterviewState(1, False, "live")
    assert await room_writes.store_state(stores, room_writes.state_entry(interview_id, state, fence=1))

    def turn(fence: int) -> dict[str, object]:
        return room_writes.turn_entry(
            turn_id=uuid.uuid4(),
            interview_id=interview_id,
            question_id=None,
            speaker="candidate",
            text="I moved the queue to Kafka.",
            started_s=1.0,
            ended_s=3.0,
            latencies={},
            audio_path=None,
            fence=fence,
        )

    await room_writes.store_turn(stores, turn(1))
    async with unit_of_work(runtime.sessions) as session:  # another process takes the room over
        assert await queries.claim_room(session, interview_id, 2)
    with pytest.raises(StaleOwnerError):
        await room_writes.store_turn(stores, turn(1))
    with pytest.raises(StaleOwnerError):
        await room_writes.store_state(
            stores, room_writes.state_entry(interview_id, InterviewState(2, False, "live"), fence=1)
        )
    # A dead process's journal replayed later: the answer is kept, its old progress is not.
    await room_writes.store_turn(stores, turn(1), replay=True)
    old = room_writes.state_entry(interview_id, InterviewState(3, False, "live"), fence=1)
    assert not await room_writes.store_state(stores, old, replay=True)
    async with unit_of_work(runtime.sessions) as session:
        row = await queries.get_interview(session, interview_id)
        turns = await queries.list_turns(session, interview_id)
    assert row is not None
    assert row.current_question == 1
    assert [t.text for t in turns] == ["I moved the queue to Kafka."] * 2


async def test_a_lease_that_expired_while_redis_was_away_is_taken_back_if_nobody_joined(
    two: tuple[Process, Process], runtime: Runtime
) -> None:
    a, _b = two
    interview_id = uuid.uuid4()
    lease = await a.leases.acquire(interview_id)
    await runtime.redis.delete(f"rooms:owner:{interview_id}")  # expired during an outage
    deadline = time.monotonic() + 5
    while not await a.leases.still_owned(lease):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert a.lost == []


async def test_after_redis_lost_its_data_a_join_can_still_claim_the_room(
    two: tuple[Process, Process], runtime: Runtime
) -> None:
    a, _b = two
    interview_id, _ = await make_interview(runtime)
    async with unit_of_work(runtime.sessions) as session:
        assert await queries.claim_room(session, interview_id, 5)
    # Redis restarted empty: the counter starts again below the stored token.
    await runtime.redis.delete(f"rooms:owner:{interview_id}", f"rooms:fence:{interview_id}")
    low = await a.leases.acquire(interview_id)
    async with unit_of_work(runtime.sessions) as session:
        assert not await queries.claim_room(session, interview_id, low.token)
    assert await a.leases.still_owned(low)  # nobody else joined: the counter is what is wrong
    await a.leases.raise_fence(interview_id, 5)
    again = await a.leases.acquire(interview_id)
    assert again.token == 6
    async with unit_of_work(runtime.sessions) as session:
        assert await queries.claim_room(session, interview_id, again.token)


async def test_closing_is_bounded_even_when_a_task_swallows_its_cancellation(runtime: Runtime) -> None:
    leases = RoomLeases(runtime.redis, process="stubborn-" + uuid.uuid4().hex[:6], options=FAST)
    await leases.start(lambda *_: asyncio.sleep(0))
    done = asyncio.Event()

    async def stubborn() -> None:
        # What a cancellation turned into a Redis read timeout looks like to a retrying loop.
        while not done.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.2)

    leases._tasks.append(asyncio.create_task(stubborn()))
    started = time.monotonic()
    await leases.aclose()
    assert time.monotonic() - started < 7
    done.set()
