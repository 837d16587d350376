"""The FastAPI application factory. Resources open in the lifespan and close in reverse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis

from agent.models.registry import ModelRegistry
from signaling import http_errors, room_writes
from signaling.journal import Entry
from signaling.ratelimit import RateLimitMiddleware
from signaling.routes import auth as auth_routes
from signaling.routes import calls, interviews, listen, live, pages, reports, resumes, review, system
from signaling.runtime import Progress, Runtime
from signaling.settings import Settings
from web import STATIC_DIR


async def _replay_journals(runtime: Runtime, progress: Progress | None) -> None:
    """Store what serve processes that died on this data dir had journaled and not yet stored,
    before this one takes calls (and before its first sweep writes a report without it)."""
    stores = room_writes.Stores(runtime.sessions, runtime.cache, runtime.questions_ns)
    directory = room_writes.journal_dir(runtime.settings.data_dir)

    async def apply(entry: Entry) -> None:
        await room_writes.apply(stores, entry)

    done = await room_writes.replay(directory, apply)
    if done.journals and progress is not None:
        progress(
            f"write journals of stopped processes replayed: {done.journals} journals, "
            f"{done.stored} writes stored, {done.skipped} dropped, {done.kept} kept for the next start"
        )


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    models: ModelRegistry | None = None,
    progress: Progress | None = None,
) -> FastAPI:
    """Build the app. Pass ``runtime`` to share one already open (tests, benchmarks); it is then
    not closed by the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        opened = await Runtime.open(settings, models=models, progress=progress)
        app.state.runtime = opened
        try:
            await _replay_journals(opened, progress)
            yield
        finally:
            await opened.close()

    app = FastAPI(
        title="Voice Interviewer",
        version="0.1.0",
        description="Self-hosted realtime voice interviewer: resumes, interview plans, live calls, reports.",
        lifespan=lifespan,
    )
    # This app's own settings: who may create interviews is read from here (tests run apps with
    # different policies over one shared runtime).
    app.state.settings = settings
    if runtime is not None:
        # Set now, not only in the lifespan: in-process test transports do not run lifespans.
        app.state.runtime = runtime
    http_errors.install(app)

    def current_redis() -> Redis | None:
        rt: Runtime | None = getattr(app.state, "runtime", None)
        return rt.redis if rt is not None else None

    app.add_middleware(
        RateLimitMiddleware, get_redis=current_redis, limit_per_minute=settings.rate_limit_per_minute
    )
    app.include_router(system.router)
    app.include_router(resumes.router)
    app.include_router(interviews.router)
    app.include_router(calls.router)
    app.include_router(reports.router)
    # The web pages, their live stream, interviewer sign-in and review (issue 6).
    app.include_router(auth_routes.router)
    app.include_router(review.router)
    app.include_router(live.router)
    app.include_router(listen.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
