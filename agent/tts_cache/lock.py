"""The per-utterance lock: one ``SET NX PX`` with a random token, extended by its holder while it
works, released only by the holder that owns it.

Both scripts compare the token first, so a holder whose lock expired (a stall longer than the TTL)
can never extend or delete the lock that a successor took in the meantime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from agent.tts_cache import metrics

log = logging.getLogger(__name__)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class RedisLock:
    """One attempt at one lock; ``acquire`` once, then ``extend``/``release`` as its owner."""

    def __init__(self, redis: Redis, name: str, ttl_ms: int) -> None:
        if ttl_ms < 10:
            raise ValueError("ttl_ms must be at least 10")
        self.redis = redis
        self.name = name
        self.ttl_ms = ttl_ms
        self.token = secrets.token_hex(16)
        self.lost = False
        """Set once an extension found the lock gone or someone else's."""

    async def acquire(self) -> bool:
        return bool(await self.redis.set(self.name, self.token, nx=True, px=self.ttl_ms))

    async def extend(self) -> bool:
        result: Any = await self.redis.eval(_EXTEND, 1, self.name, self.token, str(self.ttl_ms))
        return bool(result)

    async def release(self) -> bool:
        """Delete the lock if it is still ours; False if it expired or another holder has it."""
        result: Any = await self.redis.eval(_RELEASE, 1, self.name, self.token)
        return bool(result)


class Watchdog:
    """Extends a held lock every third of its TTL until stopped, so a synthesis longer than the TTL
    keeps its lock while a holder that dies loses it within one TTL."""

    def __init__(
        self, lock: RedisLock, *, every_s: float | None = None, on_extend: Callable[[], None] | None = None
    ) -> None:
        self._lock = lock
        self._every_s = every_s if every_s is not None else lock.ttl_ms / 3000
        self._on_extend = on_extend
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.extensions = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watchdog:{self._lock.name}")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._lock.lost:
            # The stop event ends the wait early; the timeout is the extension schedule itself.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._every_s)
            if self._stop.is_set():
                return
            try:
                kept = await self._lock.extend()
            except Exception as exc:  # Redis down: the synthesis goes on, the caller still gets audio
                log.warning("TTS lock %s: extension failed: %s", self._lock.name, exc)
                continue
            if kept:
                self.extensions += 1
                if self._on_extend is not None:
                    self._on_extend()
            else:
                self._lock.lost = True
                metrics.LOCK_LOST.inc()
                log.warning(
                    "TTS lock %s expired while synthesizing; another process may take over", self._lock.name
                )
