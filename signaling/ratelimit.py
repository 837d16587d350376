"""Per-client request limit on the REST API, counted in Redis so every API process shares it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from signaling.http_errors import error_body

log = logging.getLogger(__name__)


class RateLimitMiddleware:
    """Fixed one-minute window keyed by Redis' own clock (never a worker's: clocks drift)."""

    _SCRIPT = """
    local t = redis.call('TIME')
    local key = KEYS[1] .. ':' .. math.floor(tonumber(t[1]) / 60)
    local n = redis.call('INCR', key)
    if n == 1 then redis.call('EXPIRE', key, 120) end
    return n
    """

    def __init__(self, app: ASGIApp, *, get_redis: Callable[[], Redis | None], limit_per_minute: int) -> None:
        self.app = app
        self._get_redis = get_redis
        self.limit = limit_per_minute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        redis: Redis | None = self._get_redis()
        count = 0
        if redis is not None:
            try:
                count = int(await redis.eval(self._SCRIPT, 1, f"ratelimit:{client}"))
            except RedisError as exc:
                log.warning("rate limiter unavailable, allowing request: %s", exc)
        if count > self.limit:
            response = JSONResponse(
                error_body("RateLimited", f"more than {self.limit} requests per minute", retryable=True),
                status_code=429,
                headers={"Retry-After": "60"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
