"""What the pages are pushed: one Redis pub/sub connection per process fanned out to every open
page, and the payloads (room summaries, transcript lines, scores) built from Postgres.

A page's stream subscribes first and reads its snapshot second, so nothing published in between is
lost; a line that arrives twice carries the same ``turn_id`` and the page keeps one. A page that
falls behind, or a lost Redis connection, closes the stream: the page reconnects and gets a fresh
snapshot instead of a silent gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from db import events, review
from db.engine import unit_of_work
from db.models import Evaluation, Turn
from signaling.runtime import Runtime

log = logging.getLogger(__name__)

ROOM_LIST_WINDOW = timedelta(hours=24)
"""The dashboard lists interviews created in this window, plus any still live."""
QUEUE_LIMIT = 1000


class StreamLost(Exception):
    """The event feed behind a page's stream broke (Redis gone, or the page fell too far behind)."""


class Subscription:
    """One page's share of the hub: (channel, event) pairs in arrival order."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(QUEUE_LIMIT + 1)
        self.lost = False

    def put(self, channel: str, event: dict[str, Any]) -> None:
        if self.lost:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            self.lose()
            return
        self._queue.put_nowait((channel, event))

    def lose(self) -> None:
        if not self.lost:
            self.lost = True
            self._queue.put_nowait(None)

    async def get(self) -> tuple[str, dict[str, Any]]:
        item = await self._queue.get()
        if item is None:
            raise StreamLost("the live event feed was interrupted")
        return item


class EventHub:
    """Subscribes to ``events:*`` while at least one page listens."""

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def listeners(self) -> int:
        return len(self._subs)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription()
        async with self._lock:
            if self._task is None or self._task.done():
                self._ready = asyncio.get_running_loop().create_future()
                self._task = asyncio.create_task(self._listen(self._ready))
            ready = self._ready
            self._subs.add(sub)
        try:
            assert ready is not None
            await asyncio.shield(ready)
            yield sub
        finally:
            async with self._lock:
                self._subs.discard(sub)
                if not self._subs and self._task is not None:
                    task, self._task = self._task, None
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _listen(self, ready: asyncio.Future[None]) -> None:
        # A client of its own without a socket timeout: a quiet channel is not an error.
        client = Redis.from_url(self._url, socket_connect_timeout=2)
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe("events:*")
            ready.set_result(None)
            async for message in pubsub.listen():
                if message.get("type") != "pmessage":
                    continue
                channel = _text(message["channel"])
                try:
                    event = json.loads(_text(message["data"]))
                except ValueError:
                    log.warning("ignoring a malformed event on %s", channel)
                    continue
                if isinstance(event, dict):
                    for sub in list(self._subs):
                        sub.put(channel, event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("live event feed lost: %s", exc)
            if not ready.done():
                ready.set_exception(StreamLost(f"cannot subscribe to live events: {exc}"))
            for sub in list(self._subs):
                sub.lose()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def hub_for(app_state: Any, runtime: Runtime) -> EventHub:
    hub: EventHub | None = getattr(app_state, "live_hub", None)
    if hub is None:
        hub = EventHub(runtime.redis_url)
        app_state.live_hub = hub
    return hub


def interview_of(channel: str) -> uuid.UUID | None:
    prefix = events.interview_channel(uuid.UUID(int=0)).rsplit(":", 1)[0] + ":"
    if not channel.startswith(prefix):
        return None
    try:
        return uuid.UUID(channel[len(prefix) :])
    except ValueError:
        return None


# --- payloads -----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def connected_rooms(runtime: Runtime) -> set[uuid.UUID] | None:
    """Interviews with a call connected to any process; None when this process runs no calls.
    With Redis unreachable, this process's own calls (a page still gets its snapshot)."""
    if runtime.calls is None:
        return None
    try:
        return await runtime.calls.connected_anywhere()
    except (RedisError, OSError) as exc:
        log.warning("the rooms of other processes are unknown (%s): showing this one's", exc)
        return runtime.calls.connected()


def display_state(db_state: str, interview_id: uuid.UUID, connected: set[uuid.UUID] | None) -> str:
    """``waiting`` (not joined yet), ``live``, ``left`` (dropped mid-interview) or ``ended``."""
    if db_state == "ended":
        return "ended"
    if connected is not None and interview_id in connected:
        return "live"
    if db_state == "live":
        return "left" if connected is not None else "live"
    return "waiting"


def room_summary(row: review.InterviewRow, connected: set[uuid.UUID] | None) -> dict[str, Any]:
    iv = row.interview
    return {
        "interview_id": str(iv.id),
        "state": display_state(iv.state, iv.id, connected),
        "candidate_name": row.candidate_name,
        "target_role": iv.target_role,
        "language": iv.language,
        "question_index": iv.current_question,
        "question_count": iv.question_count,
        "created_at": _iso(iv.created_at),
        "started_at": _iso(iv.started_at),
        "ended_at": _iso(iv.ended_at),
        "report_ready": row.report_ready,
    }


def audio_url(interview_id: uuid.UUID, seq: int) -> str:
    return f"/api/interviews/{interview_id}/turns/{seq}/audio"


def turn_payload(turn: Turn, question_index: int | None, *, reviewer: bool) -> dict[str, Any]:
    latencies = dict(turn.latencies or {})
    payload: dict[str, Any] = {
        "turn_id": str(turn.id),
        "seq": turn.seq,
        "speaker": turn.speaker,
        "kind": latencies.pop("kind", None),
        "interrupted": bool(latencies.pop("interrupted", False)),
        "text": turn.text,
        "question_index": question_index,
    }
    if reviewer:
        payload["latencies"] = latencies
        payload["audio_url"] = audio_url(turn.interview_id, turn.seq) if turn.audio_path else None
    return payload


def score_payload(evaluation: Evaluation) -> dict[str, Any]:
    scores = evaluation.scores or {}
    return {
        "type": "score",
        "turn_id": str(evaluation.turn_id),
        "status": evaluation.status,
        "overall": scores.get("overall"),
        "competencies": scores.get("competencies", {}),
        "error": evaluation.error,
    }


async def room_list(runtime: Runtime) -> list[dict[str, Any]]:
    since = datetime.now(UTC) - ROOM_LIST_WINDOW
    async with unit_of_work(runtime.sessions) as session:
        rows = await review.recent_interviews(session, since=since)
    connected = await connected_rooms(runtime)
    return [room_summary(row, connected) for row in rows]


async def room(runtime: Runtime, interview_id: uuid.UUID) -> dict[str, Any] | None:
    async with unit_of_work(runtime.sessions) as session:
        row = await review.interview_row(session, interview_id)
    return room_summary(row, await connected_rooms(runtime)) if row is not None else None


async def interview_snapshot(runtime: Runtime, interview_id: uuid.UUID, *, reviewer: bool) -> dict[str, Any]:
    """The interview's summary and transcript so far (and, for an interviewer, the scores)."""
    async with unit_of_work(runtime.sessions) as session:
        row = await review.interview_row(session, interview_id)
        turns = await review.turns_with_questions(session, interview_id)
        scores = await review.evaluations(session, interview_id) if reviewer else []
    if row is None:
        return {"type": "missing", "interview_id": str(interview_id)}
    summary = room_summary(row, await connected_rooms(runtime))
    snapshot: dict[str, Any] = {
        "type": "interview",
        "interview": summary,
        "turns": [turn_payload(t.turn, t.question_index, reviewer=reviewer) for t in turns],
        "server_time": datetime.now(UTC).isoformat(),
    }
    if reviewer:
        snapshot["scores"] = [score_payload(e) for e in scores]
    else:
        summary.pop("report_ready", None)
        snapshot["ice_servers"] = runtime.settings.ice_servers  # what the call's offer should use
    return snapshot


def live_turn(event: dict[str, Any], *, reviewer: bool) -> dict[str, Any]:
    """A published ``turn`` event as a page line; the interviewer's gets its recording link."""
    out: dict[str, Any] = {
        "type": "turn",
        "turn_id": event.get("turn_id"),
        "seq": event.get("seq"),
        "speaker": event.get("speaker"),
        "kind": event.get("kind"),
        "text": event.get("text", ""),
        "question_index": event.get("question_index"),
        "interrupted": bool(event.get("interrupted", False)),
    }
    if reviewer:
        out["latencies"] = event.get("latencies") or {}
        out["audio_url"] = event.get("audio_url")
    return out
