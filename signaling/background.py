"""Run the app on a free loopback port inside the current event loop (the harness, benchmarks and
end-to-end tests drive a real HTTP server without a second process)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI


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
