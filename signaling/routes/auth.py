"""Interviewer sign-in: a session cookie for the dashboard and the reports."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from agent.errors import TokenError
from signaling.auth import SESSION_COOKIE, InterviewerStore, Principal, SessionSigner
from signaling.schemas import ErrorOut
from signaling.settings import Settings
from signaling.tokens import load_or_create_secret

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
        settings: Settings = state.runtime.settings
        secret = (
            settings.secret_key.encode()
            if settings.secret_key
            else load_or_create_secret(settings.data_dir / "secret.key")
        )
        path = settings.interviewers_file or settings.data_dir / "interviewers.json"
        access = Access(InterviewerStore(path), SessionSigner(secret), settings)
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
    return "candidate"


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


@router.post("/login", response_model=Me, responses={401: {"model": ErrorOut}})
async def login(request: Request, body: Credentials, response: Response) -> Me:
    access = access_for(request)
    if not access.store.verify(body.name, body.password):
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
        return AccessInfo(signed_in=False, accounts_exist=access.store.exists())
    return AccessInfo(signed_in=True, name=principal.name, accounts_exist=True)
