"""WebRTC signaling for an interview: the client posts an SDP offer with its join token and gets
the answer; the call starts when media flows. Also the transcript of the interview so far."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Annotated, Literal

import soundfile as sf
from fastapi import APIRouter, Header
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from agent.errors import ModelUnavailableError, NotFoundError, RecordingUnavailableError
from db import queries
from db.engine import unit_of_work
from evaluation import store as evaluation_store
from evaluation.answers import answer_by_seq, group_answers
from media.recording import parse_reference
from signaling import live
from signaling.deps import RuntimeDep
from signaling.routes.auth import InterviewAccessDep, bearer_token
from signaling.schemas import ErrorOut

router = APIRouter(prefix="/api/interviews", tags=["calls"])
MAX_SEQ = 2**31 - 1
"""``turns.seq`` is a Postgres integer: a larger one is not a turn, and must not reach the query."""


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
    audio_url: str | None = Field(default=None, description="The turn's recorded audio (WAV), when recorded")
    kind: str | None = Field(
        default=None, description="answer, greeting, next, follow_up, resume, close, other"
    )
    interrupted: bool = Field(
        default=False, description="An interviewer line the candidate cut off: not asked"
    )
    question_index: int | None = Field(default=None, description="The planned question (0-based)")
    answer_seq: int | None = Field(
        default=None,
        description="Candidate turns: the seq of the first turn of the answer this turn belongs to "
        "(consecutive turns for one question are one answer); null for interviewer lines",
    )


@router.post(
    "/{interview_id}/offer",
    response_model=Answer,
    responses={
        400: {"model": ErrorOut},
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
        503: {"model": ErrorOut, "description": "All rooms are taken (Retry-After), or calls are disabled"},
    },
    summary="Join the interview's call: post an SDP offer, get the answer",
)
async def offer(
    runtime: RuntimeDep,
    interview_id: uuid.UUID,
    body: Offer,
    response: Response,
    authorization: Annotated[str | None, Header()] = None,
) -> Answer:
    runtime.tokens.verify(body.token or bearer_token(authorization), interview_id=interview_id)
    if runtime.calls is None:
        raise ModelUnavailableError("live calls are disabled: the speech models are not loaded")
    sdp = await runtime.calls.join(interview_id, body.sdp, body.type)
    # Behind a proxy: which process runs the call (in its logs, and for testers).
    response.headers["X-Served-By"] = runtime.calls.leases.process
    return Answer(sdp=sdp, ice_servers=runtime.settings.ice_servers)


@router.get(
    "/{interview_id}/turns",
    response_model=list[TurnOut],
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="The transcript so far (interviewer sign-in, or the interview's join token)",
)
async def turns(runtime: RuntimeDep, _: InterviewAccessDep, interview_id: uuid.UUID) -> list[TurnOut]:
    async with unit_of_work(runtime.sessions) as session:
        if await queries.get_interview(session, interview_id) is None:
            raise NotFoundError(f"interview {interview_id} not found")
        rows = await queries.list_turns(session, interview_id)
        views = {v.seq: v for v in await evaluation_store.interview_turns(session, interview_id)}
    answers = answer_by_seq(group_answers(views.values()))
    return [
        TurnOut(
            seq=t.seq,
            speaker=t.speaker,
            text=t.text,
            started_s=t.started_s,
            ended_s=t.ended_s,
            latencies=t.latencies,
            audio_url=live.audio_url(interview_id, t.seq) if t.audio_path else None,
            kind=views[t.seq].kind if t.seq in views else None,
            interrupted=views[t.seq].interrupted if t.seq in views else False,
            question_index=views[t.seq].question_index if t.seq in views else None,
            answer_seq=answers[t.seq].first.seq if t.seq in answers else None,
        )
        for t in rows
    ]


@router.get(
    "/{interview_id}/turns/{seq}/audio",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}}},
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
    },
    summary="One turn's recorded audio as WAV (interviewer sign-in, or the interview's join token)",
)
async def turn_audio(
    runtime: RuntimeDep,
    _: InterviewAccessDep,
    interview_id: uuid.UUID,
    seq: Annotated[int, PathParam(ge=0, le=MAX_SEQ)],
) -> Response:
    async with unit_of_work(runtime.sessions) as session:
        turn = await queries.get_turn(session, interview_id, seq)
    if turn is None or not turn.audio_path:
        raise NotFoundError(f"turn {seq} of interview {interview_id} has no recording")
    try:
        relative, start, end = parse_reference(turn.audio_path)
    except ValueError as exc:
        raise NotFoundError(f"turn {seq} has no readable recording") from exc
    path = runtime.settings.data_dir / relative
    try:
        data = await asyncio.to_thread(_wav_span, path, start, end)
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        # A file whose header is not written yet (the call is still recording) or a damaged one:
        # nothing the client did wrong, and maybe readable later.
        raise RecordingUnavailableError(f"the recording of turn {seq} cannot be read now") from exc
    if data is None:
        raise NotFoundError(f"the recording of turn {seq} is gone")
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "private, max-age=3600"})


def _wav_span(path: Path, start_s: float | None, end_s: float | None) -> bytes | None:
    if not path.is_file():
        return None
    with sf.SoundFile(path) as f:
        rate = f.samplerate
        first = round((start_s or 0.0) * rate)
        last = f.frames if end_s is None else min(f.frames, round(end_s * rate))
        f.seek(min(first, f.frames))
        samples = f.read(max(0, last - first), dtype="int16")
    out = io.BytesIO()
    sf.write(out, samples, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()
