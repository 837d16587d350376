"""One WebSocket per page: a snapshot on connect, then every change pushed as it happens.

``/api/live?interview=ID&token=JOIN`` is the candidate's stream: that interview's transcript lines,
progress and end, never its scores. ``/api/live`` with the interviewer's session cookie is the
dashboard's and the report page's: the room list, then, for the room it asks to watch
(``{"type": "watch", "interview_id": ...}``), its transcript, scores and report-ready event.

Messages to the page are JSON objects with a ``type``: ``rooms`` (the list), ``room`` (one entry
changed), ``progress``, ``interview`` (a watched room's snapshot), ``turn``, ``score``,
``report_ready``, ``ended``, ``error``, ``denied`` (then the socket closes with 4401 or 4403).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agent.errors import TokenError
from db import events
from signaling import live
from signaling.routes.auth import interviewer_of
from signaling.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(tags=["live"])

CLOSE_DENIED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_RESYNC = 4409
"""The feed behind the stream was interrupted: reconnect for a fresh snapshot."""
CANDIDATE_EVENTS = frozenset({"ended", "error", "hangup"})
"""``hangup``: the server hung up a silent or over-long call; the page offers to join again instead
of rejoining by itself (which would hold the room again, silent)."""


def _same_origin(websocket: WebSocket) -> bool:
    """A cookie-authenticated socket must come from our own pages (no cross-site hijacking)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: it has no ambient cookie to abuse
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def _deny(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.send_json({"type": "denied", "reason": reason})
    await websocket.close(code)


@router.websocket("/api/live")
async def stream(websocket: WebSocket, interview: str | None = None, token: str | None = None) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if token is not None or interview is not None:
        try:
            interview_id = uuid.UUID(str(interview))
            runtime.tokens.verify(token, interview_id=interview_id)
        except (ValueError, TokenError) as exc:
            await _deny(websocket, CLOSE_DENIED, getattr(exc, "message", "invalid interview id"))
            return
        await _run(websocket, runtime, _CandidateStream(runtime, interview_id))
        return
    if not _same_origin(websocket):
        await _deny(websocket, CLOSE_FORBIDDEN_ORIGIN, "cross-origin connection refused")
        return
    try:
        interviewer_of(websocket)
    except TokenError as exc:
        await _deny(websocket, CLOSE_DENIED, exc.message)
        return
    await _run(websocket, runtime, _InterviewerStream(runtime))


class _Stream(ABC):
    """What one page is sent: a snapshot on connect, then its share of the pushed events."""

    @abstractmethod
    async def snapshot(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def on_event(self, channel: str, event: dict[str, Any]) -> list[dict[str, Any]]: ...

    async def on_message(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        return []


class _CandidateStream(_Stream):
    def __init__(self, runtime: Runtime, interview_id: uuid.UUID) -> None:
        self._runtime = runtime
        self._id = interview_id
        self._channel = events.interview_channel(interview_id)

    async def snapshot(self) -> list[dict[str, Any]]:
        return [await live.interview_snapshot(self._runtime, self._id, reviewer=False)]

    async def on_event(self, channel: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if channel == events.ROOMS_CHANNEL and event.get("interview_id") == str(self._id):
            return [{"type": "room", "interview_id": str(self._id), "state": event.get("state")}]
        if channel != self._channel:
            return []
        if kind == "turn":
            return [live.live_turn(event, reviewer=False)]
        if kind in CANDIDATE_EVENTS:
            return [{k: v for k, v in event.items() if k in ("type", "reason", "message")}]
        return []  # scores and reports are the interviewer's


class _InterviewerStream(_Stream):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._watching: uuid.UUID | None = None

    async def snapshot(self) -> list[dict[str, Any]]:
        return [{"type": "rooms", "rooms": await live.room_list(self._runtime)}]

    async def on_message(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        if message.get("type") == "watch":
            try:
                self._watching = uuid.UUID(str(message.get("interview_id")))
            except ValueError:
                return [{"type": "error", "message": "watch: not an interview id"}]
            return [await live.interview_snapshot(self._runtime, self._watching, reviewer=True)]
        if message.get("type") == "unwatch":
            self._watching = None
        return []

    async def on_event(self, channel: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if channel == events.ROOMS_CHANNEL:
            try:
                room = await live.room(self._runtime, uuid.UUID(str(event.get("interview_id"))))
            except ValueError:
                return []
            if room is None:
                return []
            # The event's state is the newest word, except after the end: the candidate's page
            # hanging up after the last words ("left") does not reopen an ended interview.
            if isinstance(event.get("state"), str) and room["state"] != "ended":
                room["state"] = event["state"]
            return [{"type": "room", "room": room}]
        interview_id = live.interview_of(channel)
        if interview_id is None:
            return []
        out: list[dict[str, Any]] = []
        if kind == "turn":
            out.append(
                {
                    "type": "progress",
                    "interview_id": str(interview_id),
                    "question_index": event.get("question_index"),
                }
            )
        elif kind in ("report_ready", "ended"):
            room = await live.room(self._runtime, interview_id)
            if room is not None:
                if kind == "ended":
                    room["state"] = "ended"
                out.append({"type": "room", "room": room})
        if interview_id != self._watching:
            return out
        if kind == "turn":
            out.append(live.live_turn(event, reviewer=True))
        else:
            out.append({**event, "interview_id": str(interview_id)})
        return out


async def _run(websocket: WebSocket, runtime: Runtime, stream: _Stream) -> None:
    await websocket.accept()
    hub = live.hub_for(websocket.app.state, runtime)
    try:
        async with hub.subscribe() as sub:
            for message in await stream.snapshot():
                await websocket.send_json(message)
            await _pump(websocket, sub, stream)
    except live.StreamLost as exc:
        log.info("live stream closed for a resync: %s", exc)
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_RESYNC)
    except WebSocketDisconnect:
        pass


async def _pump(websocket: WebSocket, sub: live.Subscription, stream: _Stream) -> None:
    """Forward events and answer the page's requests until either side goes away."""
    lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with lock:  # two tasks write: one frame at a time
            await websocket.send_json(message)

    async def inbound() -> None:
        while True:
            raw = await websocket.receive_text()
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if isinstance(message, dict):
                for out in await stream.on_message(message):
                    await send(out)

    async def outbound() -> None:
        while True:
            channel, event = await sub.get()
            for out in await stream.on_event(channel, event):
                await send(out)

    tasks = [asyncio.create_task(inbound()), asyncio.create_task(outbound())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
