"""Who owns a live room when several ``serve`` processes share the interviews: a lease in Redis.

Any process may accept an offer for any interview. Accepting takes the interview's lease: one
atomic script draws the next **fencing token** (a counter per interview that only grows) and makes
this process the owner, whoever held it before, because the newest join is the candidate's real
connection (a reload, a rejoin through another process after the first one died or was left
behind by a proxy). The token then guards every write the room makes: ``interviews.owner_token`` is
raised to it once the previous owner has let go, and a write carrying a lower token is refused
(``signaling.room_writes``), so a stale owner that missed the handover cannot move the interview on.

The handover, in order:

1. the new owner takes the lease and publishes ``takeover`` on :data:`CONTROL_CHANNEL`;
2. the old owner hears it (or finds its lease gone at the next renewal), closes its room, which
   flushes its pending writes while its token is still the stored one, and publishes ``released``;
3. the new owner waits for that (at most ``handover_wait_s``, and not at all when the old owner's
   process heartbeat is gone: a killed process answers nobody), then raises the stored token and
   reads the interview's state: the call resumes at the same question.

Leases are renewed together by one task per process; a process that dies stops renewing and its
rooms' leases expire after ``ttl_s`` (a rejoin does not wait for that: it takes the lease at once).
:meth:`RoomLeases.live` is every process's live rooms, what dashboards show and the abandoned-
interview sweeper protects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CONTROL_CHANNEL = "rooms:control"
LIVE_ROOMS = "rooms:live"
"""Sorted set: interview id -> the epoch milliseconds its lease runs until."""

TAKEOVERS = Counter("interviewer_room_takeovers_total", "Rooms taken over from another process")
LEASES_LOST = Counter("interviewer_room_leases_lost_total", "Rooms this process stopped: lease lost")


def _owner_key(interview_id: uuid.UUID) -> str:
    return f"rooms:owner:{interview_id}"


def _fence_key(interview_id: uuid.UUID) -> str:
    return f"rooms:fence:{interview_id}"


def _process_key(process_id: str) -> str:
    return f"processes:{process_id}"


# KEYS: owner, fence, live set. ARGV: interview id, owner JSON without token, ttl ms, now ms.
# Returns {token, previous owner JSON or false}.
_ACQUIRE = """
local previous = redis.call('GET', KEYS[1])
local token = redis.call('INCR', KEYS[2])
local owner = cjson.decode(ARGV[2])
owner['token'] = token
redis.call('SET', KEYS[1], cjson.encode(owner), 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + tonumber(ARGV[3]), ARGV[1])
return {token, previous or false}
"""

# KEYS: owner, live set, fence. ARGV: interview id, process id, token, ttl ms, now ms, url.
# 1 if still ours. A lease that expired while Redis was unreachable (or was lost with Redis's data)
# is taken back when nobody has joined since: the fence still stands at our token, or is gone.
_RENEW = """
local current = redis.call('GET', KEYS[1])
if not current then
  local fence = redis.call('GET', KEYS[3])
  if fence and tonumber(fence) ~= tonumber(ARGV[3]) then return 0 end
  if not fence then redis.call('SET', KEYS[3], ARGV[3]) end
  local mine = {process = ARGV[2], token = tonumber(ARGV[3])}
  if ARGV[6] ~= '' then mine['url'] = ARGV[6] end
  redis.call('SET', KEYS[1], cjson.encode(mine), 'PX', ARGV[4])
  redis.call('ZADD', KEYS[2], tonumber(ARGV[5]) + tonumber(ARGV[4]), ARGV[1])
  return 1
end
local owner = cjson.decode(current)
if owner['process'] ~= ARGV[2] or tonumber(owner['token']) ~= tonumber(ARGV[3]) then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], tonumber(ARGV[5]) + tonumber(ARGV[4]), ARGV[1])
return 1
"""

# KEYS: owner, live set. ARGV: interview id, process id, token. 1 if it was ours and is now gone.
_RELEASE = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local owner = cjson.decode(current)
if owner['process'] ~= ARGV[2] or tonumber(owner['token']) ~= tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class LeaseOptions:
    ttl_s: float = 15.0
    """A lease not renewed for this long is gone (its process died or lost Redis)."""
    renew_every_s: float = 3.0
    handover_wait_s: float = 10.0
    """Longest a new owner waits for the old one to flush and let go before taking over anyway."""

    @property
    def heartbeat_ttl_s(self) -> float:
        """A process that has not beaten for this long is dead: nobody waits for its handover."""
        return min(self.ttl_s, 2.5 * self.renew_every_s)

    def __post_init__(self) -> None:
        if not 0 < self.renew_every_s < self.ttl_s:
            raise ValueError("renew_every_s must be positive and shorter than ttl_s")
        if self.handover_wait_s < 0:
            raise ValueError("handover_wait_s must not be negative")


@dataclass(frozen=True, slots=True)
class Owner:
    process: str
    token: int
    url: str | None = None
    """Where the owning process can be reached directly (for requests only it can answer)."""


@dataclass(frozen=True, slots=True)
class Lease:
    interview_id: uuid.UUID
    token: int
    """The fencing token: every write of the room carries it."""
    process: str
    previous: Owner | None = None
    """Who held the room before this join (None: nobody, or the lease had expired)."""

    @property
    def took_over(self) -> bool:
        """Taken from a room that another process ran."""
        return self.previous is not None and self.previous.process != self.process


LostHandler = Callable[[uuid.UUID, int], Awaitable[None]]
"""Called with (interview id, the lost lease's token) when this process no longer owns a room."""


def process_id() -> str:
    """Unique per process start, readable in logs: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _decode_owner(raw: Any) -> Owner | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return Owner(str(data["process"]), int(data["token"]), data.get("url"))
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring an unreadable room owner record %r", raw)
        return None


class RoomLeases:
    """This process's side of the leases: take, renew, hand over and release rooms."""

    def __init__(
        self,
        redis: Redis,
        *,
        process: str | None = None,
        url: str | None = None,
        options: LeaseOptions = LeaseOptions(),
    ) -> None:
        self._redis = redis
        self.process = process or process_id()
        self._url = url
        self._options = options
        self._held: dict[uuid.UUID, int] = {}
        self._released: dict[tuple[uuid.UUID, int], asyncio.Event] = {}
        self._on_lost: LostHandler | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: set[asyncio.Task[None]] = set()
        self._closing = False
        """Set by ``aclose``: the loops end even if a cancellation was swallowed on the way (a
        cancel that races a Redis read's own timeout comes back as TimeoutError, an OSError that
        the loops otherwise retry: the suite once hung 15 minutes in a shutdown on it)."""
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self.takeovers = 0

    @property
    def options(self) -> LeaseOptions:
        return self._options

    async def start(self, on_lost: LostHandler) -> None:
        """Subscribe to handovers and start renewing; ``on_lost`` stops a room taken elsewhere."""
        self._on_lost = on_lost
        self._closing = False
        subscribed = asyncio.Event()
        await self._beat()
        self._tasks = [
            asyncio.create_task(self._listen(subscribed), name="room lease handovers"),
            asyncio.create_task(self._renew_loop(), name="room lease renewal"),
        ]
        # No join may start before a takeover of it could be heard.
        await asyncio.wait_for(subscribed.wait(), 10)

    async def aclose(self) -> None:
        """Stop renewing and listening (bounded: a Redis client stuck in a read cannot hold up a
        shutdown). ``start`` may be called again afterwards."""
        self._closing = True
        tasks, self._tasks = [*self._tasks, *self._stopping], []
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=5)
            if pending:
                log.warning("%d room lease tasks did not stop within 5 s", len(pending))
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self._redis.delete(_process_key(self.process)), 5)

    async def acquire(self, interview_id: uuid.UUID) -> Lease:
        """Own the room from now on; waits (bounded) for another process that ran it to let go."""
        now_ms = int(time.time() * 1000)
        me = json.dumps({"process": self.process, "url": self._url})
        ttl_ms = int(self._options.ttl_s * 1000)
        keys = [_owner_key(interview_id), _fence_key(interview_id), LIVE_ROOMS]
        token, raw_previous = await self._acquire(keys=keys, args=[str(interview_id), me, ttl_ms, now_ms])
        token = int(token)
        previous = _decode_owner(raw_previous)
        self._held[interview_id] = token
        lease = Lease(interview_id, token, self.process, previous)
        if lease.took_over and previous is not None:
            TAKEOVERS.inc()
            self.takeovers += 1
            log.info(
                "interview %s: taking the room over from process %s (token %d -> %d)",
                interview_id,
                previous.process,
                previous.token,
                token,
            )
            try:
                await self._hand_over(interview_id, previous, token)
            except (RedisError, OSError) as exc:
                # The room is ours already; the old owner's writes are fenced once our token is
                # stored, and it finds its lease gone at its next renewal.
                log.warning("interview %s: handover message failed (%s); taking over", interview_id, exc)
        return lease

    async def _hand_over(self, interview_id: uuid.UUID, previous: Owner, token: int) -> None:
        released = self._released.setdefault((interview_id, previous.token), asyncio.Event())
        try:
            await self._publish({"type": "takeover", "interview_id": str(interview_id), "token": token})
            if not await self._redis.exists(_process_key(previous.process)):
                log.info(
                    "interview %s: process %s is gone; not waiting for it", interview_id, previous.process
                )
                return
            try:
                await asyncio.wait_for(released.wait(), self._options.handover_wait_s)
            except TimeoutError:
                log.warning(
                    "interview %s: process %s did not let go within %.1f s; taking over anyway",
                    interview_id,
                    previous.process,
                    self._options.handover_wait_s,
                )
        finally:
            self._released.pop((interview_id, previous.token), None)

    async def release(self, lease: Lease) -> None:
        """Let go of a room this process closed (its writes flushed); says so to a waiting new owner."""
        if self._held.get(lease.interview_id) == lease.token:
            del self._held[lease.interview_id]
        keys = [_owner_key(lease.interview_id), LIVE_ROOMS]
        try:
            await self._release(keys=keys, args=[str(lease.interview_id), self.process, lease.token])
            await self._publish(
                {"type": "released", "interview_id": str(lease.interview_id), "token": lease.token}
            )
        except (RedisError, OSError) as exc:  # the lease expires by itself
            log.warning("interview %s: could not release its room lease: %s", lease.interview_id, exc)

    async def raise_fence(self, interview_id: uuid.UUID, at_least: int) -> None:
        """Move the interview's token counter up to ``at_least`` (Redis lost its data, so it counts
        from below the token Postgres holds, and no join could ever claim the room again)."""
        current = int(await self._redis.get(_fence_key(interview_id)) or 0)
        if current < at_least:
            await self._redis.set(_fence_key(interview_id), at_least)
            log.warning(
                "interview %s: room token counter raised from %d to %d", interview_id, current, at_least
            )

    def holds(self, lease: Lease) -> bool:
        """Whether this process still counts ``lease`` as its newest for the room (no rejoin since)."""
        return self._held.get(lease.interview_id) == lease.token

    async def still_owned(self, lease: Lease) -> bool:
        return (await self.owner(lease.interview_id)) == Owner(self.process, lease.token, self._url)

    async def owner(self, interview_id: uuid.UUID) -> Owner | None:
        return _decode_owner(await self._redis.get(_owner_key(interview_id)))

    async def live(self) -> set[uuid.UUID]:
        """Interviews with a live room in any process (a lease not yet expired)."""
        now_ms = int(time.time() * 1000)
        members = await self._redis.zrangebyscore(LIVE_ROOMS, now_ms, "+inf")
        found = set(self._held)
        for member in members:
            with contextlib.suppress(ValueError):
                found.add(uuid.UUID(member.decode() if isinstance(member, bytes) else str(member)))
        return found

    async def _publish(self, message: dict[str, Any]) -> None:
        await self._redis.publish(CONTROL_CHANNEL, json.dumps({**message, "process": self.process}))

    async def _beat(self) -> None:
        await self._redis.set(
            _process_key(self.process),
            json.dumps({"url": self._url}),
            px=int(self._options.heartbeat_ttl_s * 1000),
        )

    async def _listen(self, subscribed: asyncio.Event) -> None:
        """Handover messages, resubscribing after Redis drops the connection (a renewal that finds
        a lease gone covers whatever was missed meanwhile)."""
        while not self._closing:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(CONTROL_CHANNEL)
                subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        data = json.loads(message["data"])
                        await self._handle(data)
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("ignoring a malformed room control message: %s", exc)
            except (RedisError, OSError) as exc:
                if self._closing:
                    return
                log.warning("room control channel lost (%s); resubscribing", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _handle(self, data: dict[str, Any]) -> None:
        interview_id = uuid.UUID(data["interview_id"])
        token = int(data["token"])
        if data["type"] == "released":
            event = self._released.get((interview_id, token))
            if event is not None:
                event.set()
        elif data["type"] == "takeover" and data.get("process") != self.process:
            held = self._held.get(interview_id)
            if held is not None and held < token:
                self._stop_room(interview_id, held)

    def _stop_room(self, interview_id: uuid.UUID, token: int) -> None:
        """In a task of its own: closing a room takes seconds, and neither the control channel
        (another room's release may be waited for) nor the renewals may wait for it."""
        task = asyncio.create_task(self._lost(interview_id, token), name=f"stop room {interview_id}")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _lost(self, interview_id: uuid.UUID, token: int) -> None:
        if self._held.get(interview_id) == token:
            del self._held[interview_id]
        LEASES_LOST.inc()
        log.info("interview %s: another process owns the room now; stopping it here", interview_id)
        if self._on_lost is not None:
            try:
                await self._on_lost(interview_id, token)
            except Exception:
                log.exception("interview %s: stopping a room taken over failed", interview_id)

    async def _renew_loop(self) -> None:
        ttl_ms = int(self._options.ttl_s * 1000)
        while not self._closing:
            await asyncio.sleep(self._options.renew_every_s)
            try:
                await self._beat()
                now_ms = int(time.time() * 1000)
                for interview_id, token in list(self._held.items()):
                    keys = [_owner_key(interview_id), LIVE_ROOMS, _fence_key(interview_id)]
                    args: list[str | int] = [
                        str(interview_id),
                        self.process,
                        token,
                        ttl_ms,
                        now_ms,
                        self._url or "",
                    ]
                    if not await self._renew(keys=keys, args=args) and self._held.get(interview_id) == token:
                        self._stop_room(interview_id, token)
                await self._redis.zremrangebyscore(LIVE_ROOMS, "-inf", now_ms)
            except (RedisError, OSError) as exc:
                if self._closing:
                    return
                log.warning(
                    "renewing room leases failed (next in %.0f s): %s", self._options.renew_every_s, exc
                )
