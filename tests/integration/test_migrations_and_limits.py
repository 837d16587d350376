"""Migrations under concurrency, and the shared rate limit."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from db import migrate
from db.engine import EngineOptions, create_engine
from signaling.app import create_app
from signaling.runtime import Runtime
from signaling.settings import Settings

pytestmark = pytest.mark.integration


async def test_concurrent_upgrades_are_serialized(runtime: Runtime) -> None:
    engines = [create_engine(EngineOptions(url=runtime.database_url, pool_size=1)) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate.upgrade(e) for e in engines))
        assert await migrate.current_revision(engines[0]) == migrate.head_revision()
    finally:
        for e in engines:
            await e.dispose()


async def test_rate_limit_returns_429_with_retry_after(settings: Settings, runtime: Runtime) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 5})
    app = create_app(limited, runtime=runtime)
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        codes = [(await client.get("/api/health")).status_code for _ in range(7)]
        metrics = await client.get("/metrics")  # not under /api: never limited
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429, 429]
    assert metrics.status_code == 200


def test_engine_options_validated() -> None:
    with pytest.raises(ValueError, match="asyncpg"):
        EngineOptions(url="postgresql://x/y")
