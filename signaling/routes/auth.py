"""Interviewer sign-in: a session cookie for the dashboard and the reports."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from agent.errors import RateLimitedError, TokenError
from signaling.auth import SESSION_COOKIE, InterviewerStore, Principal, SessionSigner
from signaling.deps import app_settings
from signaling.ratelimit import client_address, count_hit
from signaling.runtime import signing_secret
from signaling.schemas import ErrorOut
from signaling.settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])


@dataclass(frozen=True, slots=True)
class Access:
    store: InterviewerStore
    sessions: SessionSigner
    settings: Settings


def access_for(conn: HTTPConnection) -> Access:
    """Built once per app from the runtime's settings (the same secret as the join tokens)."""
    state = conn.app.state
    access: Access | None = getattr(state, "access", None)
    if access is None:
        settings = app_settings(conn)
        path = settings.interviewers_file or settings.data_dir / "interviewers.json"
        access = Access(InterviewerStore(path), SessionSigner(signing_secret(settings)), settings)
        state.access = access
    return access


def interviewer_of(conn: HTTPConnection) -> Principal:
    """The signed-in interviewer; TokenError (401) otherwise."""
    return access_for(conn).sessions.verify(conn.cookies.get(SESSION_COOKIE))


def require_interviewer(request: Request) -> Principal:
    return interviewer_of(request)


InterviewerDep = Annotated[Principal, Depends(require_interviewer)]


def bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def require_interview_access(
    request: Request,
    interview_id: uuid.UUID,
    token: Annotated[str | None, Query(description="The interview's join token")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """A signed-in interviewer, or whoever holds this interview's join token (the candidate, the
    test harness): the transcript and recordings of one interview. Returns who it is, for logs."""
    if request.cookies.get(SESSION_COOKIE):
        with contextlib.suppress(TokenError):
            return f"interviewer:{interviewer_of(request).name}"
    request.app.state.runtime.tokens.verify(token or bearer_token(authorization), interview_id=interview_id)
    return CANDIDATE


CANDIDATE = "candidate"
InterviewAccessDep = Annotated[str, Depends(require_interview_access)]


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    name: str
    expires_at: float


class AccessInfo(BaseModel):
    signed_in: bool
    name: str | None = None
    accounts_exist: bool
    """False on a fresh install: the page then says how to create the first account."""


async def _limit_attempts(request: Request, per_minute: int) -> None:
    """Sign-in has its own limit, far below the API's: each attempt costs a scrypt check, and
    guessing passwords must stay slow. Per address only: a limit per name would let anyone lock a
    named interviewer out."""
    if per_minute <= 0:
        return
    hit = await count_hit(request.app.state.runtime.redis, f"signin:{client_address(request.scope)}", 60)
    if hit.count > per_minute:
        raise RateLimitedError(
            f"more than {per_minute} sign-in attempts per minute; wait and retry",
            retry_after_s=hit.retry_after_s,
        )


@router.post("/login", response_model=Me, responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}})
async def login(request: Request, body: Credentials, response: Response) -> Me:
    access = access_for(request)
    await _limit_attempts(request, access.settings.signin_attempts_per_minute)
    if not await access.store.averify(body.name, body.password):
        raise TokenError("wrong name or password")
    ttl = access.settings.session_ttl_s
    cookie = access.sessions.issue(body.name, ttl_s=ttl)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=access.settings.secure_cookies,
        path="/",
    )
    principal = access.sessions.verify(cookie)
    return Me(name=principal.name, expires_at=principal.expires_at)


@router.post("/logout", status_code=204)
async def logout(response: Response) -> Response:
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=AccessInfo)
async def me(request: Request) -> AccessInfo:
    access = access_for(request)
    try:
        principal = interviewer_of(request)
    except TokenError:
        return AccessInfo(signed_in=False, accounts_exist=await access.store.aexists())
    return AccessInfo(signed_in=True, name=principal.name, accounts_exist=True)
