"""Request limits counted in Redis, so every API process shares them: the per-client limit on the
REST API (middleware) and the narrower ones that guard costly actions (sign-in, creating interviews).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from signaling.http_errors import error_body

log = logging.getLogger(__name__)

# Fixed window keyed by Redis' own clock (never a worker's: clocks drift). Returns the count in the
# current window and the seconds until it ends.
_SCRIPT = """
local t = redis.call('TIME')
local window = tonumber(ARGV[1])
local slot = math.floor(tonumber(t[1]) / window)
local key = KEYS[1] .. ':' .. slot
local n = redis.call('INCR', key)
if n == 1 then redis.call('EXPIRE', key, window * 2) end
return {n, (slot + 1) * window - tonumber(t[1])}
"""


@dataclass(frozen=True, slots=True)
class WindowCount:
    count: int
    retry_after_s: int


async def count_hit(redis: Redis | None, key: str, window_s: int) -> WindowCount:
    """Count one hit on ``key`` in the current window. Without Redis (down, or not open yet) the
    hit is allowed: a limiter outage must not become a service outage."""
    if redis is None:
        return WindowCount(0, window_s)
    try:
        count, remaining = await redis.eval(_SCRIPT, 1, key, window_s)
    except RedisError as exc:
        log.warning("rate limiter unavailable, allowing request: %s", exc)
        return WindowCount(0, window_s)
    return WindowCount(int(count), max(1, int(remaining)))


def client_address(scope: Scope) -> str:
    return str((scope.get("client") or ("unknown", 0))[0])


class RateLimitMiddleware:
    """Per client address, per minute, on ``/api/*``."""

    def __init__(self, app: ASGIApp, *, get_redis: Callable[[], Redis | None], limit_per_minute: int) -> None:
        self.app = app
        self._get_redis = get_redis
        self.limit = limit_per_minute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        hit = await count_hit(self._get_redis(), f"ratelimit:{client_address(scope)}", 60)
        if hit.count > self.limit:
            response = JSONResponse(
                error_body("RateLimited", f"more than {self.limit} requests per minute", retryable=True),
                status_code=429,
                headers={"Retry-After": str(hit.retry_after_s)},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
