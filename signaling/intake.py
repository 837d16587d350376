"""Who may upload resumes and create interviews: creating one hands out a join token, and a join
token holds one of the server's few live-call rooms, so this is what keeps strangers from filling
them.

``intake=interviewers`` (the default): only a signed-in interviewer; they send the candidate the
interview's own link. ``intake=open``: anyone (a self-service or demo deployment), within a quota per
client address and a global one per hour, both counted in Redis so every API process shares them;
a signed-in interviewer is never counted.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request

from agent.errors import RateLimitedError, TokenError
from signaling.deps import app_settings
from signaling.ratelimit import client_address, count_hit
from signaling.routes.auth import interviewer_of

Action = Literal["resume", "interview"]
_HOUR_S = 3600


async def admit(request: Request, action: Action) -> str:
    """Who is creating (for logs); TokenError (401) or RateLimitedError (429) when they may not."""
    settings = app_settings(request)
    try:
        return f"interviewer:{interviewer_of(request).name}"
    except TokenError:
        if settings.intake == "interviewers":
            raise TokenError("sign in as an interviewer to upload resumes and create interviews") from None
    redis = request.app.state.runtime.redis
    address = client_address(request.scope)
    for limit, key, who in (
        (settings.intake_per_address_per_hour, f"intake:{action}:addr:{address}", "from this address"),
        (settings.intake_global_per_hour, f"intake:{action}:all", "on this server"),
    ):
        if limit <= 0:
            continue
        hit = await count_hit(redis, key, _HOUR_S)
        if hit.count > limit:
            raise RateLimitedError(
                f"more than {limit} {action} creations per hour {who}; retry later",
                retry_after_s=hit.retry_after_s,
            )
    return f"anonymous:{address}"


async def admit_resume(request: Request) -> str:
    return await admit(request, "resume")


async def admit_interview(request: Request) -> str:
    return await admit(request, "interview")


ResumeCreatorDep = Annotated[str, Depends(admit_resume)]
InterviewCreatorDep = Annotated[str, Depends(admit_interview)]
