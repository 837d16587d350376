"""Listening in: a signed-in interviewer posts a recvonly SDP offer and hears the live call (both
sides, mixed on the server); one DELETE stops it. The candidate's page asks whether listening is on,
to tell the candidate that an interviewer may listen.

With several processes, the request may reach one that does not run the call: it hands the request
to the process that owns the room (its lease names its URL), since only that one has the audio."""

from __future__ import annotations

import uuid
from typing import Literal

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from agent.errors import CapacityError, FeatureDisabledError, ModelUnavailableError, TokenError
from signaling.deps import RuntimeDep, app_settings
from signaling.listening import Listening
from signaling.routes.auth import InterviewerDep, interviewer_of
from signaling.runtime import Runtime
from signaling.schemas import ErrorOut

router = APIRouter(tags=["listen"])


class ListenOffer(BaseModel):
    sdp: str = Field(max_length=256 * 1024)
    type: Literal["offer", "answer", "pranswer", "rollback"]


class ListenOut(BaseModel):
    listener_id: uuid.UUID
    sdp: str
    type: Literal["answer"] = "answer"
    ice_servers: list[dict[str, str | list[str]]]


class ListeningInfo(BaseModel):
    enabled: bool = Field(description="Whether interviewers may listen in on this server's calls")
    ice_servers: list[dict[str, str | list[str]]] = Field(
        default_factory=list,
        description="What a listener's offer should use; only for a signed-in interviewer (TURN "
        "credentials are not for anyone who asks)",
    )


def listening_of(runtime: Runtime) -> Listening | None:
    return runtime.listening


FORWARDED = "X-Interviewer-Forwarded-By"
"""Set on a request one process hands to another: the receiver answers it itself (no loops)."""


async def _owner_elsewhere(request: Request, runtime: Runtime, interview_id: uuid.UUID) -> str | None:
    """The URL of the process that runs this interview's call, when that is not this one: a
    listener's offer (or leave) must reach the process that has the room's audio."""
    calls = runtime.calls
    if calls is None or interview_id in calls.rooms or request.headers.get(FORWARDED):
        return None
    owner = await calls.leases.owner(interview_id)
    if owner is None or owner.process == calls.leases.process or not owner.url:
        return None
    return owner.url


async def _forward(request: Request, url: str, runtime: Runtime) -> Response:
    headers = {
        k: v for k, v in request.headers.items() if k.lower() in ("cookie", "authorization", "content-type")
    }
    assert runtime.calls is not None
    headers[FORWARDED] = runtime.calls.leases.process
    try:
        async with httpx.AsyncClient(timeout=20) as http:
            resp = await http.request(
                request.method, url + request.url.path, content=await request.body(), headers=headers
            )
    except httpx.HTTPError as exc:
        raise CapacityError(
            f"the process running this call cannot be reached now ({type(exc).__name__}); retry soon"
        ) from exc
    kept = {k: v for k, v in resp.headers.items() if k.lower() in ("content-type", "retry-after")}
    return Response(resp.content, resp.status_code, headers=kept)


def _available(request: Request, runtime: Runtime) -> Listening:
    if not app_settings(request).listening:
        raise FeatureDisabledError("listening in on calls is turned off on this server")
    listening = listening_of(runtime)
    if listening is None:
        raise ModelUnavailableError("listening in is unavailable: live calls are disabled on this server")
    return listening


@router.get(
    "/api/listening",
    response_model=ListeningInfo,
    summary="Whether interviewers may listen in (the candidate's page says so when they may)",
)
async def listening_info(request: Request, runtime: RuntimeDep) -> ListeningInfo:
    enabled = app_settings(request).listening and listening_of(runtime) is not None
    try:
        interviewer_of(request)
    except TokenError:
        return ListeningInfo(enabled=enabled)
    return ListeningInfo(enabled=enabled, ice_servers=runtime.settings.ice_servers)


@router.post(
    "/api/interviews/{interview_id}/listen",
    response_model=ListenOut,
    responses={
        400: {"model": ErrorOut, "description": "A malformed offer, or one that also sends audio"},
        401: {"model": ErrorOut, "description": "Not signed in as an interviewer"},
        403: {"model": ErrorOut, "description": "Listening in is turned off"},
        404: {"model": ErrorOut, "description": "The interview has no live call (on any process)"},
        503: {"model": ErrorOut, "description": "Too many listeners (Retry-After), or calls are disabled"},
    },
    summary="Listen in on a live call (interviewer sign-in): post a recvonly SDP offer, get the answer",
)
async def listen(
    request: Request,
    runtime: RuntimeDep,
    interviewer: InterviewerDep,
    interview_id: uuid.UUID,
    body: ListenOffer,
) -> ListenOut | Response:
    listening = _available(request, runtime)
    owner_url = await _owner_elsewhere(request, runtime, interview_id)
    if owner_url is not None:
        return await _forward(request, owner_url, runtime)
    answer = await listening.listen(interview_id, body.sdp, body.type, interviewer.name)
    return ListenOut(listener_id=answer.listener_id, sdp=answer.sdp, ice_servers=runtime.settings.ice_servers)


@router.delete(
    "/api/interviews/{interview_id}/listen/{listener_id}",
    status_code=204,
    responses={
        401: {"model": ErrorOut, "description": "Not signed in as an interviewer"},
        403: {"model": ErrorOut, "description": "Listening in is turned off"},
        404: {"model": ErrorOut, "description": "No such listener on this interview"},
    },
    summary="Stop listening (interviewer sign-in)",
)
async def stop_listening(
    request: Request, runtime: RuntimeDep, _: InterviewerDep, interview_id: uuid.UUID, listener_id: uuid.UUID
) -> Response:
    listening = _available(request, runtime)
    owner_url = await _owner_elsewhere(request, runtime, interview_id)
    if owner_url is not None:
        return await _forward(request, owner_url, runtime)
    await listening.leave(interview_id, listener_id)
    return Response(status_code=204)
