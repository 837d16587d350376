"""Work the server does beside its requests: the periodic sweep for abandoned interviews, and
running the app on a free loopback port inside the current event loop (the harness, benchmarks and
end-to-end tests drive a real HTTP server without a second process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)

T = TypeVar("T")

Sweep = Callable[[Collection[uuid.UUID]], Awaitable[Sequence[T]]]
"""Finalize the abandoned interviews (end them, have their reports written), given the ones that
must be left alone; returns what it finalized. ``evaluation.abandoned.finalize_abandoned`` bound to
the database and the evaluation queue is the real one."""


@dataclass(frozen=True, slots=True)
class SweepOptions:
    interval_s: float = 60.0
    """Between two sweeps. A sweep is a couple of indexed queries; a minute keeps a report's delay
    after the grace period under one interval."""
    grace_s: float = 900.0
    """An interview seen with a call on this server within this long is left alone, whatever the
    database says of its last turn: the grace for a rejoin counts from the call's end."""

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.grace_s <= 0:
            raise ValueError("interval_s and grace_s must be positive")


class AbandonedSweeper(Generic[T]):
    """Runs ``sweep`` every ``interval_s`` until closed. A failed sweep (the database down) is logged
    and the next one tries again; the server never stops because of it."""

    def __init__(
        self,
        sweep: Sweep[T],
        *,
        connected: Callable[[], Awaitable[Collection[uuid.UUID]]],
        options: SweepOptions = SweepOptions(),
    ) -> None:
        self._sweep = sweep
        self._connected = connected
        self._options = options
        self._last_seen: dict[uuid.UUID, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.sweeps = 0
        self.finalized = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="abandoned sweeper")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _protected(self) -> set[uuid.UUID]:
        """Interviews with a call now (in any process), or one that ended less than ``grace_s`` ago."""
        connected = await self._connected()
        now = time.monotonic()
        for interview_id in connected:
            self._last_seen[interview_id] = now
        cutoff = now - self._options.grace_s
        self._last_seen = {i: t for i, t in self._last_seen.items() if t >= cutoff}
        return set(self._last_seen)

    async def run_once(self) -> Sequence[T]:
        done = await self._sweep(await self._protected())
        self.sweeps += 1
        self.finalized += len(done)
        return done

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._options.interval_s)
            try:
                done = await self.run_once()
            except Exception as exc:
                log.warning(
                    "sweep for abandoned interviews failed (next in %.0f s): %s",
                    self._options.interval_s,
                    exc,
                )
                continue
            if done:
                log.info("finalized %d abandoned interviews", len(done))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def serve_in_background(app: FastAPI, *, lifespan: str = "on") -> AsyncIterator[str]:
    """Yields the base URL once the server accepts connections; stops it on exit."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan=lifespan)  # type: ignore[arg-type]
    )
    serving = asyncio.create_task(server.serve())
    # uvicorn offers no readiness event, only the flag: check it until it is up or failed.
    while not server.started:
        if serving.done():
            await serving
            raise RuntimeError("the server exited during start-up")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await serving
