"""Session fixtures: one embedded Postgres + Redis in a temporary data dir and one set of real models
for the whole run (each model loads once per test session)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from agent.models.llm import LlamaCppLLM
from agent.models.registry import QWEN_ALIAS, ModelPaths, ModelRegistry, locate
from signaling.app import create_app
from signaling.auth import InterviewerStore
from signaling.runtime import Runtime, model_paths
from signaling.settings import Settings, load_settings

# The product's default LLM is the bilingual 1.5B model (~10x SmolLM2's cost per token): the suite
# runs on SmolLM2, English only, so that it stays fast on 2 cores, and every process it starts
# (``serve``, workers, benches) inherits the choice from the environment. The tests that need the
# 1.5B load it themselves, once (tests/integration/test_llm_qwen.py, test_plan_llm.py). Set the
# variables before running pytest to run the whole suite on another model.
TEST_LLM = {"INTERVIEWER_LLM_PATH": "smollm2-135m", "INTERVIEWER_LLM_LANGUAGES": '["en"]'}
for _name, _value in TEST_LLM.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    # Not under pytest's own temp root: pytest makes that private (0700) again whenever another
    # pytest run starts, which locks embedded Postgres (its own OS user) out of its data dir.
    data_dir = Path(tempfile.mkdtemp(prefix="interviewer-tests-"))
    # DATABASE_URL / REDIS_URL in the environment point the suite at external servers instead.
    # No local evaluation workers: the evaluation tests start their own pools, with models loaded once
    # per worker process, only where they are needed.
    # Open intake without quotas: the suite's clients create interviews as a self-service deployment
    # would; the tests of the default policy (interviewer sign-in) and the quotas make their own apps.
    yield load_settings(
        data_dir=data_dir,
        rate_limit_per_minute=0,
        eval_workers=0,
        intake="open",
        intake_per_address_per_hour=0,
        intake_global_per_hour=0,
        signin_attempts_per_minute=0,
    )
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def models(settings: Settings) -> AsyncIterator[ModelRegistry]:
    registry = ModelRegistry(model_paths(settings))
    await registry.preload(("llm", "embeddings"))
    yield registry
    registry.close()


@pytest.fixture(scope="session")
def qwen_paths(tmp_path_factory: pytest.TempPathFactory) -> ModelPaths:
    return ModelPaths(data_dir=tmp_path_factory.mktemp("qwen"), llm_path=Path(QWEN_ALIAS), llm_threads=2)


@pytest.fixture(scope="session")
def qwen(qwen_paths: ModelPaths) -> Iterator[LlamaCppLLM]:
    """The bilingual 1.5B model, joined from its packages and loaded once for the tests that need it."""
    # No time limit of the model's own in tests: a call that queues behind other engineers' runs on a
    # shared machine is slow, not wrong (timing belongs to bench/).
    info = locate("llm", qwen_paths)
    llm = LlamaCppLLM.load(
        info=info, model_path=Path(info.path), n_threads=qwen_paths.llm_threads, timeout_s=3600
    )
    yield llm
    llm.close()


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


REVIEWER = ("reviewer", "a long test password")


@pytest.fixture(scope="session")
async def reviewer(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The app as a signed-in interviewer (reports, any interview's transcript and recordings)."""
    InterviewerStore(settings.data_dir / "interviewers.json").create(*REVIEWER, replace=True)
    transport = httpx.ASGITransport(app=create_app(settings, runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as c:
        r = await c.post("/api/auth/login", json={"name": REVIEWER[0], "password": REVIEWER[1]})
        r.raise_for_status()
        yield c
