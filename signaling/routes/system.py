"""Health, metrics and the landing page."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from db.engine import unit_of_work
from signaling.deps import RuntimeDep
from signaling.schemas import Health
from web import STATIC_DIR

log = logging.getLogger(__name__)
router = APIRouter(tags=["system"])


@router.get("/api/health", response_model=Health)
async def health(runtime: RuntimeDep, response: Response) -> Health:
    database = redis_ok = True
    try:
        async with unit_of_work(runtime.sessions) as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        log.warning("health: database check failed: %s", exc)
        database = False
    try:
        await runtime.redis.ping()
    except (RedisError, OSError) as exc:
        log.warning("health: Redis check failed: %r", exc)
        redis_ok = False
    ok = database and redis_ok
    if not ok:
        response.status_code = 503
    return Health(
        status="ok" if ok else "degraded",
        database=database,
        redis=redis_ok,
        models=[f"{m.role}:{m.name}" for m in runtime.models.loaded()],
        process=runtime.calls.leases.process if runtime.calls is not None else None,
        calls=len(runtime.calls.rooms) if runtime.calls is not None else None,
        max_calls=runtime.settings.max_rooms if runtime.calls is not None else None,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")
