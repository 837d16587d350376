"""The process's shared resources, opened in order and closed in reverse: embedded servers (when no
URL is set), the DB engine with migrations applied, Redis, and the preloaded models."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agent.models.registry import ModelPaths, ModelRegistry
from agent.plan.planner import InterviewPlanner, PlanOptions
from agent.resume.extract import ExtractLimits
from agent.resume.ingest import IngestOptions, ResumeIngestor
from agent.session.presynth import Presynthesizer
from agent.tts_cache import CacheOptions, SharedSpeechCache
from db import migrate
from db.cache import CacheNamespace, ReadThroughCache
from db.embedded import EmbeddedPostgres, EmbeddedRedis
from db.engine import EngineOptions, create_engine, create_sessionmaker
from evaluation.celery_app import create_celery
from evaluation.config import ScoringOptions, WorkerConfig
from evaluation.dispatch import EvaluationQueue
from evaluation.workers import LocalWorkers, PoolOptions
from signaling.background import AbandonedSweeper, SweepOptions
from signaling.leases import LeaseOptions, RoomLeases
from signaling.listening import Listening
from signaling.redact import redact_url
from signaling.settings import Settings
from signaling.tokens import TokenSigner, load_or_create_secret

if TYPE_CHECKING:
    from signaling.calls import CallManager

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


async def _no_rooms() -> frozenset[uuid.UUID]:
    return frozenset()


def model_paths(settings: Settings) -> ModelPaths:
    return ModelPaths(
        data_dir=settings.data_dir,
        llm_path=settings.llm_path,
        llm_threads=settings.llm_threads,
        llm_context=settings.llm_context,
        embedding_backend=settings.embedding_backend,
        embedding_path=settings.embedding_path,
        stt_path=settings.stt_path,
        stt_threads=settings.stt_threads,
        stt_workers=settings.stt_workers,
        tts_ko_path=settings.tts_ko_path,
        tts_voice_path=settings.tts_voice_path,
    )


def worker_config(settings: Settings, *, database_url: str, redis_url: str) -> WorkerConfig:
    """What evaluation workers (local or ``interview worker`` elsewhere) need from these settings."""
    return WorkerConfig(
        broker_url=redis_url,
        database_url=database_url,
        model_paths=model_paths(settings),
        scoring=ScoringOptions(
            llm_weight=settings.eval_llm_weight,
            llm_languages=tuple(settings.llm_languages),
            bank_threshold=settings.eval_bank_threshold,
        ),
        report_cache_ttl_s=settings.cache_ttl_report_s,
    )


def signing_secret(settings: Settings) -> bytes:
    """The key join tokens and sessions are derived from: the configured one, else the data dir's."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value().encode()
    return load_or_create_secret(settings.data_dir / "secret.key")


def advertised_url(settings: Settings) -> str:
    """How the other processes reach this one: the setting, else the bound address (the host's
    name when bound to every interface, as in a container, where the name resolves to it)."""
    if settings.advertise_url:
        return settings.advertise_url.rstrip("/")
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else socket.gethostname()
    return f"http://{host}:{settings.port}"


def lease_options(settings: Settings) -> LeaseOptions:
    return LeaseOptions(
        ttl_s=settings.room_lease_ttl_s,
        renew_every_s=settings.room_lease_renew_s,
        handover_wait_s=settings.room_handover_wait_s,
    )


def extract_limits(settings: Settings) -> ExtractLimits:
    return ExtractLimits(
        max_bytes=settings.max_upload_bytes,
        max_pdf_pages=settings.max_pdf_pages,
        max_docx_uncompressed_bytes=settings.max_docx_uncompressed_bytes,
        max_chars=settings.max_resume_chars,
    )


def tts_cache_options(settings: Settings) -> CacheOptions:
    return CacheOptions(
        ttl_s=settings.tts_cache_ttl_s,
        max_entry_bytes=settings.tts_cache_max_entry_bytes,
        lock_ttl_ms=settings.tts_cache_lock_ttl_ms,
        wait_timeout_s=settings.tts_cache_wait_s,
    )


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    models: ModelRegistry
    cache: ReadThroughCache
    ingestor: ResumeIngestor
    planner: InterviewPlanner
    database_url: str
    redis_url: str
    tokens: TokenSigner
    calls: CallManager | None = None
    evaluation: EvaluationQueue | None = None
    """Sends answers to the evaluation workers; None when ``settings.evaluation`` is off."""
    eval_workers: LocalWorkers | None = None
    tts_cache: SharedSpeechCache | None = None
    """The process's TTS cache over Redis (live calls and pre-synthesis); None without calls."""
    presynth: Presynthesizer | None = None
    listening: Listening | None = None
    """Interviewers listening in on this process's live calls; None when calls or listening are off."""
    sweeper: AbandonedSweeper[object] | None = None
    """Finalizes interviews left ``live`` with no call past the grace period (and ended ones whose
    report never got written)."""
    startup_s: dict[str, float] = field(default_factory=dict)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    @property
    def questions_ns(self) -> CacheNamespace:
        return CacheNamespace("interview", self.settings.cache_ttl_questions_s)

    @property
    def report_ns(self) -> CacheNamespace:
        return CacheNamespace("report", self.settings.cache_ttl_report_s)

    @classmethod
    async def open(
        cls, settings: Settings, *, models: ModelRegistry | None = None, progress: Progress | None = None
    ) -> Runtime:
        say = progress or (lambda line: log.info("%s", line))
        stack = AsyncExitStack()
        timings: dict[str, float] = {}
        try:
            t = time.perf_counter()
            database_url = settings.database_url
            if database_url is None:
                say(f"starting embedded Postgres in {settings.data_dir / 'postgres'} ...")
                pg = EmbeddedPostgres(settings.data_dir)
                database_url = pg.start()
                stack.callback(pg.stop)
            engine = create_engine(EngineOptions(url=database_url))
            stack.push_async_callback(engine.dispose)
            await migrate.upgrade(engine)
            timings["postgres"] = time.perf_counter() - t
            revision = await migrate.current_revision(engine)
            say(f"Postgres ready, schema at {revision} ({timings['postgres']:.2f} s)")

            t = time.perf_counter()
            redis_url = settings.redis_url
            if redis_url is None:
                embedded_redis = EmbeddedRedis(settings.data_dir)
                redis_url = embedded_redis.start()
                stack.callback(embedded_redis.stop)
            # A blocking pool: under a burst of requests a caller waits for a free connection
            # instead of failing at once with MaxConnectionsError (redis-py's default pool).
            pool = BlockingConnectionPool.from_url(
                redis_url,
                max_connections=settings.redis_max_connections,
                timeout=5,
                socket_timeout=5,
                socket_connect_timeout=2,
            )
            redis = Redis.from_pool(pool)  # owns the pool: closing the client closes it
            stack.push_async_callback(redis.aclose)
            await redis.ping()
            timings["redis"] = time.perf_counter() - t
            say(f"Redis ready at {redact_url(redis_url)} ({timings['redis']:.2f} s)")

            t = time.perf_counter()
            registry = models or ModelRegistry(model_paths(settings))
            if models is None:
                stack.callback(registry.close)
            roles: tuple[str, ...] = ("llm", "embeddings")
            if settings.enable_calls:
                roles += ("stt", "stt_en", "tts")
            if settings.preload_models:
                await registry.preload(roles, progress=say)
            timings["models"] = time.perf_counter() - t

            sessions = create_sessionmaker(engine)
            ingestor = ResumeIngestor(
                sessions=sessions,
                embedder=registry.embedder,
                llm=registry.llm,
                options=IngestOptions(
                    limits=extract_limits(settings), llm_languages=frozenset(settings.llm_languages)
                ),
            )
            planner = InterviewPlanner(
                sessions=sessions,
                embedder=registry.embedder,
                llm=registry.llm,
                options=PlanOptions(
                    top_k=settings.retrieval_top_k, llm_languages=frozenset(settings.llm_languages)
                ),
            )
            secret = signing_secret(settings)
        except BaseException:
            await stack.aclose()
            raise
        runtime = cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            models=registry,
            cache=ReadThroughCache(redis),
            ingestor=ingestor,
            planner=planner,
            database_url=database_url,
            redis_url=redis_url,
            tokens=TokenSigner(secret),
            startup_s=timings,
            _stack=stack,
        )
        if settings.evaluation:
            try:
                await runtime._open_evaluation(say)
            except BaseException:
                await stack.aclose()
                raise
        if settings.enable_calls:
            from signaling.calls import CallManager

            runtime._open_tts_cache(registry)
            queue = runtime.evaluation
            if settings.listening:
                runtime.listening = Listening(
                    redis=redis,
                    ice_servers=settings.ice_servers,
                    allow_loopback_ice=settings.allow_loopback_ice,
                )
                stack.push_async_callback(runtime.listening.close)  # after the calls (the stack unwinds)
            runtime.calls = CallManager(
                runtime,
                registry,
                on_turn=queue.on_turn if queue is not None else None,
                on_end=queue.on_end if queue is not None else None,
                leases=RoomLeases(
                    redis,
                    url=advertised_url(settings),
                    options=lease_options(settings),
                ),
                listening=runtime.listening,
            )
            stack.push_async_callback(runtime.calls.close)
            await runtime.calls.start()

        runtime._open_sweeper()
        return runtime

    def _open_sweeper(self) -> None:
        """Last opened, so first closed: no sweep runs while the calls or the database close."""
        from evaluation.abandoned import AbandonOptions, finalize_abandoned

        options = AbandonOptions(grace_s=self.settings.abandoned_grace_s)
        queue = self.evaluation
        calls = self.calls

        async def sweep(connected: Collection[uuid.UUID]) -> Sequence[object]:
            return await finalize_abandoned(
                self.sessions,
                connected=connected,
                close=queue.close_interview if queue is not None else None,
                options=options,
            )

        sweeper: AbandonedSweeper[object] = AbandonedSweeper(
            sweep,
            connected=calls.connected_anywhere if calls is not None else _no_rooms,
            options=SweepOptions(
                interval_s=self.settings.sweep_interval_s, grace_s=self.settings.abandoned_grace_s
            ),
        )
        sweeper.start()
        self._stack.push_async_callback(sweeper.aclose)
        self.sweeper = sweeper

    def _open_tts_cache(self, registry: ModelRegistry) -> None:
        """Opened before the calls so it closes after them (the stack unwinds in reverse)."""
        self.tts_cache = SharedSpeechCache(self.redis, options=tts_cache_options(self.settings))
        self._stack.push_async_callback(self.tts_cache.aclose)
        if self.settings.tts_presynthesize:
            self.presynth = Presynthesizer(lambda: registry.tts, self.tts_cache)
            self._stack.push_async_callback(self.presynth.aclose)

    async def _open_evaluation(self, say: Progress) -> None:
        queue = EvaluationQueue(create_celery(self.redis_url), self.redis)
        self._stack.callback(queue.close)
        self._stack.push_async_callback(queue.drain)
        self.evaluation = queue
        if self.settings.eval_workers > 0:
            config = worker_config(self.settings, database_url=self.database_url, redis_url=self.redis_url)
            workers = LocalWorkers(
                config,
                PoolOptions(
                    processes=self.settings.eval_workers,
                    nice=self.settings.eval_worker_nice,
                    log_file=self.settings.data_dir / "evaluation-workers.log",
                ),
            )
            # Not waited for: answers queue in Redis until the workers have loaded their models.
            await asyncio.to_thread(workers.start, wait=False)
            self._stack.callback(workers.stop)
            self.eval_workers = workers
            say(
                f"evaluation workers starting: {self.settings.eval_workers} processes at nice +"
                f"{self.settings.eval_worker_nice}"
            )

    async def close(self) -> None:
        await self._stack.aclose()
