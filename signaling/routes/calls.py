"""WebRTC signaling for an interview: the client posts an SDP offer with its join token and gets
the answer; the call starts when media flows. Also the transcript of the interview so far."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from agent.errors import ModelUnavailableError, NotFoundError
from db import queries
from db.engine import unit_of_work
from signaling.deps import RuntimeDep
from signaling.schemas import ErrorOut

router = APIRouter(prefix="/api/interviews", tags=["calls"])


class Offer(BaseModel):
    sdp: str = Field(max_length=256 * 1024)
    type: Literal["offer", "answer", "pranswer", "rollback"]
    token: str | None = Field(default=None, description="Join token; or send 'Authorization: Bearer ...'")


class Answer(BaseModel):
    sdp: str
    type: Literal["answer"] = "answer"
    ice_servers: list[dict[str, str | list[str]]]


class TurnOut(BaseModel):
    seq: int
    speaker: str
    text: str
    started_s: float | None
    ended_s: float | None
    latencies: dict[str, object]


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


@router.post(
    "/{interview_id}/offer",
    response_model=Answer,
    responses={
        400: {"model": ErrorOut},
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
    },
    summary="Join the interview's call: post an SDP offer, get the answer",
)
async def offer(
    runtime: RuntimeDep,
    interview_id: uuid.UUID,
    body: Offer,
    authorization: Annotated[str | None, Header()] = None,
) -> Answer:
    runtime.tokens.verify(body.token or _bearer(authorization), interview_id=interview_id)
    if runtime.calls is None:
        raise ModelUnavailableError("live calls are disabled: the speech models are not loaded")
    sdp = await runtime.calls.join(interview_id, body.sdp, body.type)
    return Answer(sdp=sdp, ice_servers=runtime.settings.ice_servers)


@router.get("/{interview_id}/turns", response_model=list[TurnOut], responses={404: {"model": ErrorOut}})
async def turns(runtime: RuntimeDep, interview_id: uuid.UUID) -> list[TurnOut]:
    async with unit_of_work(runtime.sessions) as session:
        if await queries.get_interview(session, interview_id) is None:
            raise NotFoundError(f"interview {interview_id} not found")
        rows = await queries.list_turns(session, interview_id)
    return [
        TurnOut(
            seq=t.seq,
            speaker=t.speaker,
            text=t.text,
            started_s=t.started_s,
            ended_s=t.ended_s,
            latencies=t.latencies,
        )
        for t in rows
    ]
