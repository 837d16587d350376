"""Each distinct utterance synthesized once, across every process that shares one Redis.

A request for an utterance, in order:

1. in this process, join the flight already under way for its key (:mod:`agent.tts_cache.flight`);
2. read ``{prefix}:audio:{key}``: a hit is served at once;
3. take ``{prefix}:lock:{key}`` with one ``SET NX PX`` and a random token. The holder extends it while
   it works, reads the audio once more (someone may have finished between 2 and 3), synthesizes while
   streaming each chunk to its readers, stores the audio with a TTL, publishes completion and deletes
   the lock only if the token is still its own;
4. otherwise wait for the completion signal, or for the lock to expire (its holder died), then go
   back to 2: the audio is there, or the lock is free to take over.

Whenever Redis fails, the request goes on without it: the in-process flight is the single-flight,
the model is called directly and the audio kept in memory; the failure is logged and counted, and
Redis is left alone for ``retry_after_s`` so a dead server costs no connect timeouts on every line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agent.errors import ModelError
from agent.models.base import AudioChunk
from agent.tts_cache import metrics
from agent.tts_cache.flight import Flight, LocalFlights
from agent.tts_cache.keys import PCM_FORMAT, CachedSpeech, RedisKeys
from agent.tts_cache.lock import RedisLock, Watchdog
from agent.tts_cache.memory import MemorySpeechCache, SpeechCache
from agent.tts_cache.signals import DONE, FAILED, UNCACHED, CompletionListener, ListenerDown

log = logging.getLogger(__name__)

Synthesize = Callable[[], AsyncIterator[AudioChunk]]
"""Starts the model on one utterance; called at most once per request, only on a miss."""
Observer = Callable[[str, str], None]
"""``(event, key)`` at each step (hit, wait, synthesize, stored, published, released, not_ours,
extended, takeover, fallback): for tracing, and for tests that must know a request is waiting
without sleeping."""

_REDIS_ERRORS = (RedisError, OSError, ListenerDown)


@dataclass(frozen=True, slots=True)
class CacheOptions:
    ttl_s: int = 7 * 24 * 3600
    """How long a stored utterance lives; planned questions are re-used for days, fixed lines forever
    (each hit does not extend it: an entry nobody needs should go)."""
    max_entry_bytes: int = 8 * 1024 * 1024
    """Larger audio is streamed to its caller but not stored (about 3 minutes at 22 kHz)."""
    lock_ttl_ms: int = 3000
    """A dead holder is noticed within this; the watchdog extends it every third."""
    wait_timeout_s: float = 60.0
    """Longest a request waits on another process before synthesizing by itself."""
    retry_after_s: float = 5.0
    """After a Redis failure, go straight to the fallback this long."""
    prefix: str = "tts"

    def __post_init__(self) -> None:
        if self.ttl_s < 1 or self.max_entry_bytes < 2 or self.lock_ttl_ms < 30:
            raise ValueError("ttl_s, max_entry_bytes and lock_ttl_ms must be positive (lock_ttl_ms >= 30)")
        if self.wait_timeout_s <= 0 or self.retry_after_s < 0:
            raise ValueError("wait_timeout_s must be positive and retry_after_s not negative")
        RedisKeys(self.prefix)  # validates the prefix


class SharedSpeechCache:
    """The process's TTS cache: Redis when given and reachable, memory otherwise.

    Implements the plain get/put :class:`SpeechCache` protocol too, for callers that store audio
    they made themselves."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        options: CacheOptions = CacheOptions(),
        local: SpeechCache | None = None,
        observer: Observer | None = None,
    ) -> None:
        if redis is not None and redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("the TTS cache stores raw audio: use a Redis client without decode_responses")
        self.options = options
        self._redis = redis
        self._keys = RedisKeys(options.prefix)
        self._local: SpeechCache = local if local is not None else MemorySpeechCache()
        self._flights = LocalFlights()
        self._listener = CompletionListener(redis, self._keys) if redis is not None else None
        self._observer = observer
        self._down_until = 0.0
        self._down_logged = False

    # --- the public surface ------------------------------------------------------------------------

    def stream(self, key: str, synthesize: Synthesize) -> AsyncIterator[AudioChunk]:
        """The utterance's audio: at once on a hit, chunk by chunk as it is made on a miss."""
        return self.start(key, synthesize).follow()

    def start(self, key: str, synthesize: Synthesize) -> Flight:
        """Join or start the flight for ``key`` (runs in the background whoever reads it)."""
        self._keys.audio(key)  # validates the key before anything is named after it
        return self._flights.start(key, lambda flight: self._produce(key, synthesize, flight))

    def running(self, key: str) -> Flight | None:
        return self._flights.get(key)

    async def get(self, key: str) -> CachedSpeech | None:
        if self._redis_usable():
            try:
                speech = await self._read(key)
            except _REDIS_ERRORS as exc:
                self._redis_failed(exc, "read")
            else:
                if speech is not None:
                    return speech
        return await self._local.get(key)

    async def put(self, key: str, speech: CachedSpeech) -> None:
        if self._redis_usable():
            try:
                await self._store(key, speech)
                return
            except _REDIS_ERRORS as exc:
                self._redis_failed(exc, "store")
        await self._local.put(key, speech)

    async def aclose(self) -> None:
        await self._flights.aclose()
        if self._listener is not None:
            await self._listener.aclose()

    # --- one request --------------------------------------------------------------------------------

    async def _produce(self, key: str, synthesize: Synthesize, flight: Flight) -> None:
        if not self._redis_usable():
            metrics.FALLBACKS.labels("unavailable").inc()
            await self._direct(key, synthesize, flight)
            return
        deadline = time.monotonic() + self.options.wait_timeout_s
        waited = False
        try:
            while True:
                speech = await self._read(key)
                if speech is not None:
                    self._hit(key, flight, speech, "redis")
                    return
                lock = RedisLock(self._redis_client, self._keys.lock(key), self.options.lock_ttl_ms)
                if await lock.acquire():
                    if waited:
                        metrics.TAKEOVERS.inc()
                        self._observe("takeover", key)
                    await self._hold(key, lock, synthesize, flight)
                    return
                if not waited:
                    waited = True
                    metrics.WAITS.inc()
                outcome = await self._wait_once(key, lock.name, deadline)
                if isinstance(outcome, CachedSpeech):
                    self._hit(key, flight, outcome, "redis")
                    return
                if outcome == UNCACHED:
                    await self._direct(key, synthesize, flight)
                    return
                if time.monotonic() >= deadline:
                    waited_s = self.options.wait_timeout_s
                    log.warning("TTS cache: gave up waiting for %s after %.0f s", key[:12], waited_s)
                    metrics.FALLBACKS.labels("wait_timeout").inc()
                    await self._direct(key, synthesize, flight)
                    return
        except _REDIS_ERRORS as exc:
            if flight.chunks:
                raise  # a holder's own failures are handled in _hold; never synthesize twice here
            self._redis_failed(exc, "request")
            await self._direct(key, synthesize, flight)

    async def _wait_once(self, key: str, lock_name: str, deadline: float) -> CachedSpeech | str:
        """One wait for the holder: its completion signal, or its lock's expiry."""
        assert self._listener is not None
        future = await self._listener.expect(key)
        try:
            # Registered first, checked second: a completion between the two is seen either way.
            self._observe("wait", key)
            async with self._redis_client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self._keys.audio(key))
                pipe.pttl(lock_name)
                raw, pttl = await pipe.execute()
            speech = _decode(key, raw)
            if speech is not None:
                return speech
            if pttl == -2:
                return "free"  # released without audio (failed) or expired: take it over
            # A lock without expiry is nobody's we know of: treat it as one TTL long.
            lock_left_s = (pttl if pttl > 0 else self.options.lock_ttl_ms) / 1000
            timeout = max(0.0, min(lock_left_s + 0.005, deadline - time.monotonic()))
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                return "expired"  # the next round reads the lock again: extended means still alive
        finally:
            self._listener.forget(key, future)

    async def _hold(self, key: str, lock: RedisLock, synthesize: Synthesize, flight: Flight) -> None:
        watchdog = Watchdog(lock, on_extend=lambda: self._observe("extended", key))
        watchdog.start()
        status = FAILED
        try:
            speech = await self._read(key)  # the double check: finished between our read and our lock
            if speech is not None:
                status = DONE
                self._hit(key, flight, speech, "redis")
                return
            speech = await self._synthesize(key, synthesize, flight)
            try:
                status = await self._store(key, speech)
            except _REDIS_ERRORS as exc:
                self._redis_failed(exc, "store")
                await self._local.put(key, speech)
            flight.finish(speech)
        finally:
            await watchdog.stop()
            await self._finish_lock(key, lock, status)

    async def _finish_lock(self, key: str, lock: RedisLock, status: str) -> None:
        try:
            # Announce before releasing: a waiter woken by the release alone would find no audio yet
            # only if the store failed, and then taking over is exactly right.
            if self._listener is not None:
                await self._listener.publish(key, status)
                self._observe("published", key)
            if await lock.release():
                self._observe("released", key)
            else:
                log.warning("TTS lock for %s was no longer ours at release", key[:12])
                self._observe("not_ours", key)
        except _REDIS_ERRORS as exc:
            self._redis_failed(exc, "release")

    async def _direct(self, key: str, synthesize: Synthesize, flight: Flight) -> None:
        """Without Redis: the memory store, else the model; the in-process flight is the single-flight."""
        self._observe("fallback", key)
        speech = await self._local.get(key)
        if speech is not None:
            self._hit(key, flight, speech, "memory")
            return
        speech = await self._synthesize(key, synthesize, flight)
        await self._local.put(key, speech)
        flight.finish(speech)

    async def _synthesize(self, key: str, synthesize: Synthesize, flight: Flight) -> CachedSpeech:
        metrics.SYNTHESES.inc()
        self._observe("synthesize", key)
        parts: list[bytes] = []
        rate: int | None = None
        try:
            async for chunk in synthesize():
                if rate is None:
                    rate = chunk.sample_rate
                elif chunk.sample_rate != rate:
                    raise ModelError(f"sample rate changed mid-utterance ({rate} -> {chunk.sample_rate})")
                parts.append(chunk.pcm)
                flight.push(chunk)
        except OSError as exc:
            # Kept apart from Redis's OSErrors, which mean "fall back", not "the voice failed".
            raise ModelError(f"synthesis failed: {exc}") from exc
        if rate is None:
            raise ModelError("the voice produced no audio")
        return CachedSpeech(b"".join(parts), rate)

    def _hit(self, key: str, flight: Flight, speech: CachedSpeech, store: str) -> None:
        metrics.HITS.labels(store).inc()
        self._observe("hit", key)
        flight.finish(speech)

    # --- Redis --------------------------------------------------------------------------------------

    @property
    def _redis_client(self) -> Redis:
        if self._redis is None:
            raise ListenerDown("no Redis configured")
        return self._redis

    async def _read(self, key: str) -> CachedSpeech | None:
        raw = await self._redis_client.hgetall(self._keys.audio(key))
        if self._down_logged:
            self._down_logged = False
            log.info("TTS cache: Redis answers again")
        return _decode(key, raw)

    async def _store(self, key: str, speech: CachedSpeech) -> str:
        size = len(speech.pcm)
        if size > self.options.max_entry_bytes:
            metrics.OVERSIZE.inc()
            cap = self.options.max_entry_bytes
            log.warning("TTS cache: %s is %d bytes, over the %d cap; not stored", key[:12], size, cap)
            return UNCACHED
        name = self._keys.audio(key)
        async with self._redis_client.pipeline(transaction=True) as pipe:
            pipe.hset(
                name,
                mapping={
                    "pcm": speech.pcm,
                    "rate": speech.sample_rate,
                    "format": PCM_FORMAT,
                    "duration_ms": round(speech.duration_s * 1000),
                },
            )
            pipe.expire(name, self.options.ttl_s)
            await pipe.execute()
        metrics.BYTES_STORED.inc(size)
        self._observe("stored", key)
        return DONE

    def _redis_usable(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._down_until

    def _redis_failed(self, exc: BaseException, stage: str) -> None:
        self._down_until = time.monotonic() + self.options.retry_after_s
        if not self._down_logged:
            self._down_logged = True
            log.warning("TTS cache: Redis failed (%s: %s); synthesizing in process for now", stage, exc)
        metrics.FALLBACKS.labels(stage).inc()

    def _observe(self, event: str, key: str) -> None:
        if self._observer is not None:
            self._observer(event, key)


def _decode(key: str, raw: Mapping[Any, Any] | None) -> CachedSpeech | None:
    if not raw:
        return None
    try:
        pcm = raw[b"pcm"]
        rate = int(raw[b"rate"])
        ok = (
            isinstance(pcm, bytes)
            and raw.get(b"format") == PCM_FORMAT.encode()
            and len(pcm) % 2 == 0
            and rate > 0
        )
    except (KeyError, ValueError, TypeError):
        ok = False
    if not ok:
        log.warning("TTS cache: entry %s is malformed; treating it as a miss", key[:12])
        return None
    return CachedSpeech(pcm, rate)
