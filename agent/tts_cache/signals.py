"""Completion signals: one pub/sub connection per process wakes every local waiter.

A holder publishes on ``{prefix}:done:{key}`` once the audio is stored (or the attempt failed).
Waiters register a future for the key *before* re-checking Redis, and the pattern subscription is
confirmed before anyone registers, so a signal can arrive early but never unseen. If the connection
breaks, every waiter is failed at once (they fall back) and the next registration reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from agent.tasks import cancel_and_wait
from agent.tts_cache.keys import RedisKeys

log = logging.getLogger(__name__)

DONE = "done"
"""Stored: re-read the audio."""
FAILED = "failed"
"""The holder's synthesis failed: take the lock over and try again."""
UNCACHED = "uncached"
"""Made but not stored (over the size cap): synthesize without the lock rather than queue up."""


class ListenerDown(ConnectionError):
    """The completion channel broke; the waiter stops waiting for Redis."""


class CompletionListener:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys
        self._waiters: dict[str, set[asyncio.Future[str]]] = {}
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock = asyncio.Lock()

    async def expect(self, key: str) -> asyncio.Future[str]:
        """A future resolved with the next signal's status for ``key``. Raises if Redis is down."""
        await self._ensure_running()
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, set()).add(future)
        return future

    def forget(self, key: str, future: asyncio.Future[str]) -> None:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()  # a failure nobody awaited (the waiter found the audio first) is fine
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(future)
            if not waiters:
                del self._waiters[key]

    async def publish(self, key: str, status: str) -> None:
        await self._redis.publish(self._keys.done(key), status)

    async def _ensure_running(self) -> None:
        if self._task is not None and not self._task.done():
            return
        async with self._starting:
            if self._task is not None and not self._task.done():
                return
            pubsub = self._redis.pubsub()
            try:
                # Waits for the server's confirmation: from here on no signal can be missed.
                await pubsub.psubscribe(self._keys.done_pattern)
                message = await pubsub.get_message(timeout=5.0)
                if message is None or message.get("type") != "psubscribe":
                    raise ListenerDown("no subscription confirmation from Redis")
            except BaseException:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            self._pubsub = pubsub
            self._task = asyncio.create_task(self._read(pubsub), name="tts-cache-signals")

    async def _read(self, pubsub: PubSub) -> None:
        try:
            async for message in pubsub.listen():
                self._dispatch(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("TTS cache: completion channel lost: %s", exc)
        finally:
            self._fail_all(ListenerDown("the completion channel closed"))
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") != "pmessage":
            return
        channel = _text(message.get("channel"))
        key = self._keys.key_of_channel(channel)
        if key is None:
            return
        for future in self._waiters.pop(key, set()):
            if not future.done():
                future.set_result(_text(message.get("data")))

    def _fail_all(self, exc: BaseException) -> None:
        waiters, self._waiters = self._waiters, {}
        for futures in waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(exc)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
