"""Read-through cache in Redis with explicit invalidation on every write.

Each key has a generation counter. Readers read the generation, then the value stored under that
generation; writers bump the generation after their transaction commits. A reader that loaded old
data while a write was committing stores it under the old generation, where nobody will read it:
no stale value can outlive a write (the classic delete-then-repopulate race).
If Redis is unreachable the loader runs directly: a cache never breaks a request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CACHE_EVENTS = Counter("interviewer_cache_events_total", "Read-through cache events", ["namespace", "event"])


@dataclass(frozen=True, slots=True)
class CacheNamespace:
    name: str
    ttl_s: int

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError("namespace name must be an identifier")
        if self.ttl_s <= 0:
            raise ValueError("ttl_s must be positive")


class ReadThroughCache:
    def __init__(self, redis: Redis, prefix: str = "cache") -> None:
        self._redis = redis
        self._prefix = prefix

    def _gen_key(self, ns: CacheNamespace, key: str) -> str:
        return f"{self._prefix}:{ns.name}:gen:{key}"

    async def get_or_load(
        self, ns: CacheNamespace, key: str, loader: Callable[[], Awaitable[dict[str, Any] | None]]
    ) -> dict[str, Any] | None:
        gen_key = self._gen_key(ns, key)
        try:
            generation = int(await self._redis.get(gen_key) or 0)
            data_key = f"{self._prefix}:{ns.name}:v{generation}:{key}"
            cached = await self._redis.get(data_key)
        except RedisError as exc:
            CACHE_EVENTS.labels(ns.name, "redis_error").inc()
            log.warning("cache unavailable, reading through: %s", exc)
            return await loader()
        if cached is not None:
            CACHE_EVENTS.labels(ns.name, "hit").inc()
            value: dict[str, Any] = json.loads(cached)
            return value
        CACHE_EVENTS.labels(ns.name, "miss").inc()
        loaded = await loader()
        if loaded is not None:
            try:
                await self._redis.set(data_key, json.dumps(loaded, default=str), ex=ns.ttl_s)
            except RedisError as exc:
                log.warning("cache store failed: %s", exc)
        return loaded

    async def invalidate(self, ns: CacheNamespace, key: str) -> None:
        """Call after the write's transaction committed."""
        try:
            gen_key = self._gen_key(ns, key)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(gen_key)
                pipe.expire(gen_key, max(ns.ttl_s * 2, 86_400))
                await pipe.execute()
            CACHE_EVENTS.labels(ns.name, "invalidate").inc()
        except RedisError as exc:
            # A failed invalidation could serve stale data for up to the TTL: loud, counted.
            CACHE_EVENTS.labels(ns.name, "invalidate_error").inc()
            log.error("cache invalidation failed for %s:%s: %s", ns.name, key, exc)
