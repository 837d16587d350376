"""The read-through cache against the real embedded Redis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from db.cache import CacheNamespace, ReadThroughCache
from signaling.runtime import Runtime

pytestmark = pytest.mark.integration

NS = CacheNamespace("testns", 60)


class Source:
    def __init__(self) -> None:
        self.value: dict[str, Any] = {"v": 1}
        self.loads = 0

    async def load(self) -> dict[str, Any]:
        self.loads += 1
        return dict(self.value)


async def test_hit_after_miss_and_invalidation_on_write(runtime: Runtime) -> None:
    cache = ReadThroughCache(runtime.redis, prefix=f"t{uuid.uuid4().hex}")
    src = Source()
    assert await cache.get_or_load(NS, "k", src.load) == {"v": 1}
    assert await cache.get_or_load(NS, "k", src.load) == {"v": 1}
    assert src.loads == 1
    src.value = {"v": 2}
    await cache.invalidate(NS, "k")
    assert await cache.get_or_load(NS, "k", src.load) == {"v": 2}
    assert src.loads == 2


async def test_reader_racing_a_write_cannot_store_stale_data(runtime: Runtime) -> None:
    """A reader that loaded the old row before the write committed must not outlive the write."""
    cache = ReadThroughCache(runtime.redis, prefix=f"t{uuid.uuid4().hex}")
    src = Source()

    async def slow_stale_load() -> dict[str, Any]:
        old = await src.load()
        # The write commits and invalidates while this reader still holds the old value.
        src.value = {"v": 2}
        await cache.invalidate(NS, "k")
        return old

    assert await cache.get_or_load(NS, "k", slow_stale_load) == {"v": 1}
    assert await cache.get_or_load(NS, "k", src.load) == {"v": 2}


async def test_unreachable_redis_reads_through(tmp_path: Any) -> None:
    dead = Redis.from_url(f"unix://{tmp_path}/nothing.sock", socket_connect_timeout=0.5)
    cache = ReadThroughCache(dead)
    src = Source()
    assert await cache.get_or_load(NS, "k", src.load) == {"v": 1}
    await cache.invalidate(NS, "k")  # logged, never raised
    await dead.aclose()


async def test_interview_endpoint_is_served_from_cache(runtime: Runtime) -> None:
    interview_id = uuid.uuid4()
    src = Source()
    first = await runtime.cache.get_or_load(runtime.questions_ns, str(interview_id), src.load)
    second = await runtime.cache.get_or_load(runtime.questions_ns, str(interview_id), src.load)
    assert first == second
    assert src.loads == 1
