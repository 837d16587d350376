"""Live events over Redis pub/sub: what pages are pushed (room states, transcript lines, scores,
report ready), published by whichever process learns it (the call process, an evaluation worker).

Two channels: one per interview, and one for the room list every dashboard watches. Events are JSON
objects with a ``type``; publishing never raises to the caller (a missed push is logged and counted,
the data itself is already in Postgres).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

EVENTS_PUBLISHED = Counter("interviewer_events_published_total", "Live events published", ["type", "outcome"])

ROOMS_CHANNEL = "events:rooms"
"""Room list changes: ``{"type": "room", "interview_id": ..., "state": ..., ...}``."""


def interview_channel(interview_id: uuid.UUID | str) -> str:
    """Per-interview events: ``turn``, ``state``, ``score``, ``report_ready``, ``ended``."""
    return f"events:interview:{uuid.UUID(str(interview_id))}"


def encode(event: dict[str, Any]) -> str:
    if not isinstance(event.get("type"), str):
        raise ValueError("an event needs a string 'type'")
    return json.dumps(event, ensure_ascii=False, default=str)


async def publish(redis: Redis, channel: str, event: dict[str, Any]) -> bool:
    """Publish one event; False (logged, counted) when Redis is unreachable."""
    payload = encode(event)
    try:
        await redis.publish(channel, payload)
    except (RedisError, OSError) as exc:
        return _counted(event, channel, exc)
    return _counted(event, channel, None)


def publish_sync(redis: Any, channel: str, event: dict[str, Any]) -> bool:
    """The same from synchronous code (Celery tasks) with a ``redis.Redis`` client."""
    payload = encode(event)
    try:
        redis.publish(channel, payload)
    except (RedisError, OSError) as exc:
        return _counted(event, channel, exc)
    return _counted(event, channel, None)


def _counted(event: dict[str, Any], channel: str, error: Exception | None) -> bool:
    EVENTS_PUBLISHED.labels(event["type"], "failed" if error else "ok").inc()
    if error is not None:
        log.warning("could not publish %s event on %s: %s", event["type"], channel, error)
    return error is None
