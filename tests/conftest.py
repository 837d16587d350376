"""Session fixtures: one embedded Postgres + Redis in a temporary data dir and one set of real models
for the whole run (each model loads once per test session)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from agent.models.registry import ModelRegistry
from signaling.app import create_app
from signaling.runtime import Runtime, model_paths
from signaling.settings import Settings, load_settings


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("interviewer-data")
    # DATABASE_URL / REDIS_URL in the environment point the suite at external servers instead.
    # No local evaluation workers: the evaluation tests start their own pools, with models loaded once
    # per worker process, only where they are needed.
    return load_settings(data_dir=data_dir, rate_limit_per_minute=0, eval_workers=0)


@pytest.fixture(scope="session")
async def models(settings: Settings) -> AsyncIterator[ModelRegistry]:
    registry = ModelRegistry(model_paths(settings))
    await registry.preload(("llm", "embeddings"))
    yield registry
    registry.close()


@pytest.fixture(scope="session")
async def runtime(settings: Settings, models: ModelRegistry) -> AsyncIterator[Runtime]:
    rt = await Runtime.open(settings, models=models)
    yield rt
    await rt.close()


@pytest.fixture(scope="session")
async def client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as c:
        yield c
