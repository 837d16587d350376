"""What each worker process holds for its whole life: its own event loop, DB engine, Redis client and
models, set up once in ``worker_process_init`` (after the fork) and closed at process shutdown.

The predecessor's forked workers inherited their parent's connection pool and shared sockets; here
any engine inherited through fork is disposed without closing the parent's connections, and every
process opens its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agent.models.registry import ModelRegistry
from db.cache import CacheNamespace, ReadThroughCache
from db.engine import EngineOptions, create_engine, create_sessionmaker
from evaluation.config import WorkerConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
READY_CHANNEL = "evaluation:workers:ready"
"""Each worker process publishes ``host:pid`` here once its models are loaded."""


@dataclass
class WorkerProcess:
    config: WorkerConfig
    loop: asyncio.AbstractEventLoop
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    models: ModelRegistry
    cache: ReadThroughCache
    name: str

    @property
    def report_ns(self) -> CacheNamespace:
        # The same namespace as the API's runtime.report_ns: the worker bumps it after each write.
        return CacheNamespace("report", self.config.report_cache_ttl_s)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)


_current: WorkerProcess | None = None


def current() -> WorkerProcess:
    if _current is None:
        raise RuntimeError(
            "no worker process state: tasks run only in a worker started by 'interview worker'"
        )
    return _current


def init_process(config: WorkerConfig) -> WorkerProcess:
    """Set up this process (call after fork); replaces and disposes any state inherited."""
    global _current
    inherited, _current = _current, None
    if inherited is not None:
        # close=False: the parent's connections stay usable by the parent; this process just
        # forgets them and opens its own.
        inherited.engine.sync_engine.dispose(close=False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    models = ModelRegistry(config.model_paths)
    models.load("embeddings")
    models.load("llm")
    engine = create_engine(EngineOptions(url=config.database_url, pool_size=2, max_overflow=2))
    redis = Redis.from_url(config.broker_url, socket_timeout=10, socket_connect_timeout=5)
    name = f"{socket.gethostname()}:{os.getpid()}"
    _current = WorkerProcess(
        config=config,
        loop=loop,
        engine=engine,
        sessions=create_sessionmaker(engine),
        redis=redis,
        models=models,
        cache=ReadThroughCache(redis),
        name=name,
    )
    try:
        loop.run_until_complete(redis.publish(READY_CHANNEL, name))
    except (OSError, RedisError) as exc:  # only the readiness notice is lost; tasks still run
        # (redis-py's ConnectionError is not an OSError: catching OSError alone killed the process)
        log.warning("could not announce worker %s: %s", name, exc)
    log.info("evaluation worker process %s ready (%s)", name, ", ".join(i.name for i in models.loaded()))
    return _current


def shutdown_process() -> None:
    global _current
    state, _current = _current, None
    if state is None:
        return
    try:
        state.loop.run_until_complete(state.engine.dispose())
        state.loop.run_until_complete(state.redis.aclose())
    finally:
        state.models.close()
        state.loop.close()
