"""Live calls: one WebRTC connection per interview, wired to the agent session.

A rejoin replaces the old connection; the interview's state lives in Postgres, so the new session
resumes at the same question. With several processes, the room's lease (``signaling.leases``)
says which one runs it: a join anywhere takes the room over, the old owner stops its session and
flushes, and every write of the room carries the lease's fencing token. Each finished turn is
written at once, exported as metrics, and sent to the client over the ``events`` data channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from redis.exceptions import RedisError

from agent.errors import (
    CapacityError,
    ConflictError,
    InvalidSessionDescriptionError,
    NotFoundError,
    StaleOwnerError,
)
from agent.models.base import Pcm16
from agent.models.registry import ModelRegistry
from agent.plan.stages import Stage
from agent.session.runner import InterviewOutcome, SessionModels, SessionOptions, run_interview
from agent.session.state import InterviewPlan, InterviewState, PlanQuestion
from agent.session.turn_taking import TurnTakingOptions
from agent.session.turns import TurnRecord
from db import events, queries
from db.engine import unit_of_work
from media.ice import (
    close_peer_connection,
    enable_loopback_candidates,
    rtc_configuration,
    strip_mdns_candidates,
)
from media.inbound import InboundAudio
from media.mixer import TeeSink
from media.outbound import PacedAudioTrack
from media.recording import AudioSink, CallRecording
from signaling import live, metrics, room_writes
from signaling.journal import Journal
from signaling.leases import Lease, RoomLeases
from signaling.listening import Listening
from signaling.outbox import RetryPolicy, RoomOutbox
from signaling.runtime import Runtime
from signaling.sdp import answer_uses_opus, validate_offer

log = logging.getLogger(__name__)

TurnHook = Callable[[uuid.UUID, TurnRecord, uuid.UUID], None]
"""Called after a turn row is committed (interview id, record, turn row id): evaluation wires here."""
EndHook = Callable[[uuid.UUID], None]
"""Called once when an interview reaches its end (state ``ended`` committed): the report wires here."""


class PgStateStore:
    """Interview progress in ``interviews`` (state, current_question, followup_used).

    With an outbox, :meth:`save` queues the write (retried, in order with the room's turns, only the
    newest of several pending saves written, journaled when the outbox has a journal) and returns at
    once, so a database outage never reaches the session; without one it writes directly."""

    def __init__(
        self,
        runtime: Runtime,
        interview_id: uuid.UUID,
        *,
        outbox: RoomOutbox | None = None,
        fence: int | None = None,
    ) -> None:
        self._runtime = runtime
        self._id = interview_id
        self._outbox = outbox
        self._fence = fence

    async def load(self) -> InterviewState | None:
        async with unit_of_work(self._runtime.sessions) as session:
            row = await queries.get_interview(session, self._id)
        if row is None:
            return None
        status = row.state if row.state in ("planned", "live", "ended") else "planned"
        return InterviewState(row.current_question, row.followup_used, status)  # type: ignore[arg-type]

    async def save(self, state: InterviewState) -> None:
        if self._outbox is None:
            await self.write(state)
            return
        label = f"state {state.status} q{state.question_index}"
        entry = room_writes.state_entry(self._id, state, fence=self._fence)

        async def write() -> None:
            await room_writes.store_state(_stores(self._runtime), entry)

        self._outbox.put(room_writes.STATE, label, write, coalesce="state", entry=entry)

    async def write(self, state: InterviewState) -> None:
        entry = room_writes.state_entry(self._id, state, fence=self._fence)
        await room_writes.store_state(_stores(self._runtime), entry)


def _stores(runtime: Runtime) -> room_writes.Stores:
    return room_writes.Stores(runtime.sessions, runtime.cache, runtime.questions_ns)


@dataclass
class Room:
    interview_id: uuid.UUID
    pc: RTCPeerConnection
    outbound: PacedAudioTrack
    questions: list[uuid.UUID]
    channel: RTCDataChannel | None = None
    inbound: InboundAudio | None = None
    task: asyncio.Task[InterviewOutcome | None] | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    recording: CallRecording | None = None
    outbox: RoomOutbox | None = None
    """The room's turn and state writes, in order and retried (made when the session starts)."""
    lease: Lease | None = None
    """This process's ownership of the room; its token fences the room's writes."""
    taken_over: bool = False
    """Closed because another process took the room over (it, not this one, says the room is live)."""
    started_at: float = field(default_factory=time.monotonic)
    last_activity: float = field(default_factory=time.monotonic)
    """Monotonic time either side was last heard (candidate speech, interviewer audio playing)."""
    watchdog: asyncio.Task[None] | None = None
    shut: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once everything of the room is closed (``closed`` is set when closing starts)."""

    def heard(self) -> None:
        self.last_activity = time.monotonic()

    def send_event(self, event: dict[str, Any]) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(event, ensure_ascii=False))


VOICED_RMS = 300.0
"""int16 RMS above which a 20 ms candidate frame counts as someone there (speech is ~1000-8000, a
quiet room's noise floor well under 100): what the silence bound listens for."""


class _Samples:
    """The inbound frames' samples. A plain iterator, not an async generator: livekit may close its
    reader from another task while a read is pending, which an async generator cannot survive
    ("aclose(): asynchronous generator is already running")."""

    def __init__(self, inbound: InboundAudio, on_voiced: Callable[[], None] | None = None) -> None:
        self._inbound = inbound
        self._on_voiced = on_voiced

    def __aiter__(self) -> _Samples:
        return self

    async def __anext__(self) -> Pcm16:
        frame = await self._inbound.__anext__()
        if self._on_voiced is not None:
            pcm = frame.samples.astype(np.float32)
            if pcm.size and float(np.sqrt(np.mean(pcm * pcm))) > VOICED_RMS:
                self._on_voiced()
        return frame.samples


def _tee(*sinks: AudioSink | None) -> AudioSink | None:
    present = [s for s in sinks if s is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else TeeSink(*present)


class CallManager:
    def __init__(
        self,
        runtime: Runtime,
        models: ModelRegistry,
        *,
        on_turn: TurnHook | None = None,
        on_end: EndHook | None = None,
        leases: RoomLeases | None = None,
        listening: Listening | None = None,
    ) -> None:
        self._runtime = runtime
        self._models = models
        self._leases = leases or RoomLeases(runtime.redis)
        self._leases_started = False
        self._listening = listening
        """Interviewers listening in: each room's two sides are teed into its mix."""
        self._on_turn = on_turn
        self._on_end = on_end
        self._rooms: dict[uuid.UUID, Room] = {}
        self._joining: set[uuid.UUID] = set()
        self._lock = asyncio.Lock()
        self._open_rooms: dict[int, Room] = {}
        """Every room not yet closed in full, registered or not (one being replaced or refused)."""
        self._join_locks: dict[uuid.UUID, tuple[asyncio.Lock, int]] = {}
        """Per interview: its joins run one at a time (lock, joins holding or waiting for it)."""
        self._journal: Journal | None = None
        """This process's write journal, made with the first room's outbox, closed last."""
        self.shutdown_timeout_s = 20.0
        if runtime.settings.allow_loopback_ice:
            enable_loopback_candidates()

    @property
    def rooms(self) -> dict[uuid.UUID, Room]:
        return dict(self._rooms)

    def connected(self) -> set[uuid.UUID]:
        """Interviews with a call on this server or a join under way: never abandoned."""
        return set(self._rooms) | self._joining

    async def connected_anywhere(self) -> set[uuid.UUID]:
        """The same over every process sharing the database (their rooms' leases)."""
        return self.connected() | await self._leases.live()

    @property
    def leases(self) -> RoomLeases:
        return self._leases

    async def start(self) -> None:
        """Start hearing about takeovers and renewing leases (done by the first join otherwise)."""
        async with self._lock:
            if not self._leases_started:
                await self._leases.start(self._taken_over)
                self._leases_started = True

    async def _plan(self, interview_id: uuid.UUID) -> tuple[InterviewPlan, list[uuid.UUID], bool]:
        async with unit_of_work(self._runtime.sessions) as session:
            interview = await queries.get_interview(session, interview_id)
            if interview is None:
                raise NotFoundError(f"interview {interview_id} not found")
            if interview.state == "ended":
                raise ConflictError("this interview has ended")
            rows = await queries.list_questions(session, interview_id)
        questions = tuple(PlanQuestion(q.ord, Stage(q.stage), q.text) for q in rows)
        plan = InterviewPlan(interview.language, questions, target_role=interview.target_role)  # type: ignore[arg-type]
        return plan, [q.id for q in rows], interview.follow_ups

    async def join(self, interview_id: uuid.UUID, sdp: str, kind: str) -> str:
        """Answer a client's offer; replaces any connection the interview already has.

        Joins of one interview are serialized (a reload during negotiation, two tabs): each sees
        the room the one before it registered and closes it, so an interview never has two rooms,
        and a room overwritten without being closed can neither keep running nor escape
        ``max_rooms``. One join may wait behind the running one; more at once get 409."""
        validate_offer(sdp, kind)
        await self.start()
        async with self._one_join_at_a_time(interview_id):
            plan, question_ids, follow_ups = await self._plan(interview_id)
            await self._reserve(interview_id)
            try:
                lease = await self._take_room(interview_id)
                try:
                    return await self._connect(interview_id, sdp, kind, plan, question_ids, follow_ups, lease)
                except BaseException:
                    # No room holds the lease now: let go of it, or it would be renewed for ever.
                    await self._leases.release(lease)
                    raise
            finally:
                self._joining.discard(interview_id)

    async def _take_room(self, interview_id: uuid.UUID) -> Lease:
        """Own the room, in order: the lease (another process's room is stopped and flushed), this
        process's own previous room closed (its writes flushed under the old token), then the new
        token stored, so nothing the old session wrote is refused and nothing after it is let in."""
        try:
            lease = await self._leases.acquire(interview_id)
        except (RedisError, OSError) as exc:
            raise CapacityError("the room registry (Redis) cannot be reached; retry soon") from exc
        try:
            async with self._lock:
                old = self._rooms.pop(interview_id, None)
            if old is not None:
                log.info("interview %s rejoined: replacing the previous connection", interview_id)
                await self._close_room(old)
            if await self._claim(lease):
                return lease
            if await self._leases.still_owned(lease):
                # Nobody joined after us, yet Postgres holds a newer token: Redis lost its data and
                # counts from below it. Move the counter past it and take the room once more.
                await self._leases.raise_fence(interview_id, await self._stored_token(interview_id))
                lease = await self._leases.acquire(interview_id)
                if await self._claim(lease):
                    return lease
            raise ConflictError("this interview was joined again elsewhere a moment later")
        except BaseException as exc:
            await self._leases.release(lease)  # no room will hold it
            if isinstance(exc, RedisError | OSError):
                raise CapacityError("the room registry (Redis) cannot be reached; retry soon") from exc
            raise

    async def _claim(self, lease: Lease) -> bool:
        async with unit_of_work(self._runtime.sessions) as session:
            return await queries.claim_room(session, lease.interview_id, lease.token)

    async def _stored_token(self, interview_id: uuid.UUID) -> int:
        async with unit_of_work(self._runtime.sessions) as session:
            row = await queries.get_interview(session, interview_id)
        return row.owner_token or 0 if row is not None else 0

    @contextlib.asynccontextmanager
    async def _one_join_at_a_time(self, interview_id: uuid.UUID) -> AsyncIterator[None]:
        lock, users = self._join_locks.get(interview_id, (asyncio.Lock(), 0))
        if users >= 2:
            raise ConflictError("this interview is already being joined; retry in a moment")
        self._join_locks[interview_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._join_locks[interview_id]
            if users <= 1:
                del self._join_locks[interview_id]
            else:
                self._join_locks[interview_id] = (lock, users - 1)

    async def _reserve(self, interview_id: uuid.UUID) -> None:
        """Hold a slot from the offer until the room is registered, so concurrent joins cannot
        overshoot ``max_rooms``; a rejoin keeps its interview's slot."""
        async with self._lock:
            taken = set(self._rooms) | self._joining
            limit = self._runtime.settings.max_rooms
            if interview_id not in taken and len(taken) >= limit:
                metrics.CALLS.labels("refused").inc()
                raise CapacityError(f"this server already runs its maximum of {limit} live calls; retry soon")
            self._joining.add(interview_id)

    async def _connect(
        self,
        interview_id: uuid.UUID,
        sdp: str,
        kind: str,
        plan: InterviewPlan,
        question_ids: list[uuid.UUID],
        follow_ups: bool,
        lease: Lease,
    ) -> str:
        settings = self._runtime.settings
        pc = RTCPeerConnection(rtc_configuration(settings.ice_servers))
        recording = (
            CallRecording(settings.data_dir, f"recordings/{interview_id}") if settings.record_calls else None
        )
        # Each side's frames go to the recording and, for listeners, to the room's live mix.
        candidate_tap, interviewer_tap = (
            self._listening.taps(interview_id) if self._listening is not None else (None, None)
        )
        candidate_sink = _tee(recording.candidate if recording else None, candidate_tap)
        outbound = PacedAudioTrack(
            recorder=_tee(recording.interviewer if recording else None, interviewer_tap)
        )
        room = Room(interview_id, pc, outbound, question_ids, recording=recording, lease=lease)
        self._open_rooms[id(room)] = room
        pc.addTrack(outbound)

        @pc.on("datachannel")
        def _on_channel(channel: RTCDataChannel) -> None:
            if channel.label == "events":
                room.channel = channel

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and room.task is None:
                room.inbound = InboundAudio(track, recorder=candidate_sink)
                room.task = asyncio.create_task(self._run(room, plan, room.inbound, follow_ups))

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._drop(room)

        negotiated = False
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            await pc.setLocalDescription(await pc.createAnswer())
            if not answer_uses_opus(pc.localDescription.sdp):
                raise InvalidSessionDescriptionError("no usable Opus audio in common with this offer")
            negotiated = True
        except InvalidSessionDescriptionError:
            raise
        # Anything aiortc raises here is about the offer (OperationError for a media section with
        # no codec in common, ValueError for a direction or attribute it rejects, ...): our own
        # validation passed it, so it is still the client's input, a 400.
        except Exception as exc:
            raise InvalidSessionDescriptionError(f"cannot negotiate this offer: {exc}") from exc
        finally:
            if not negotiated:
                # The track may already have started a session (it fires during
                # setRemoteDescription): close the room in full, not only the connection, so no
                # session, writer thread or open recording file outlives the refused offer.
                await self._close_room(room)
        async with self._lock:
            if room.closed.is_set():  # the manager closed, or another process took the room over
                raise CapacityError("this server is shutting down; retry soon")
            self._rooms[interview_id] = room
        if not await self._still_owned(lease):  # taken over while this offer was negotiated
            await self._drop(room, taken_over=True)
            raise ConflictError("this interview was joined again elsewhere a moment later")
        metrics.ACTIVE_CALLS.set(len(self._rooms))
        room.watchdog = asyncio.create_task(self._watch(room))
        await self._room_changed(room, "live")
        return strip_mdns_candidates(pc.localDescription.sdp)

    async def _run(
        self, room: Room, plan: InterviewPlan, inbound: InboundAudio, follow_ups: bool
    ) -> InterviewOutcome | None:
        settings = self._runtime.settings
        options = SessionOptions(
            min_silence_s=settings.vad_min_silence_s,
            ack=settings.acknowledge,
            follow_ups=follow_ups,
            turn_taking=TurnTakingOptions(
                silence_prompt_s=settings.silence_prompt_s, resume_window_s=settings.resume_window_s
            ),
        )

        outbox = room.outbox = self._open_outbox(room)

        def on_turn(record: TurnRecord) -> None:
            self._persist_turn(room, outbox, record)

        outcome: InterviewOutcome | None = None
        try:
            outcome = await run_interview(
                audio_in=_Samples(inbound, on_voiced=room.heard),
                sink=room.outbound,
                plan=plan,
                models=SessionModels(
                    stt=self._models.stt_for(plan.language), tts=self._models.tts, llm=self._models.llm
                ),
                state_store=PgStateStore(
                    self._runtime,
                    room.interview_id,
                    outbox=outbox,
                    fence=room.lease.token if room.lease else None,
                ),
                on_turn=on_turn,
                options=options,
                speech_cache=self._runtime.tts_cache,
                origin=room.recording.origin if room.recording else None,
            )
        except Exception:
            log.exception("interview %s session failed", room.interview_id)
        # Every turn and the last state stored (or given up, with an error event) before the end is
        # handled: the report is built from what Postgres holds.
        await outbox.flush()
        if outcome is None:
            metrics.CALLS.labels("error").inc()
            message = "the interviewer hit an error; rejoin to continue"
            await self._emit(room, {"type": "error", "message": message})
            return None
        metrics.CALLS.labels(outcome.reason).inc()
        if outcome.state.status == "ended":
            await self._emit(room, {"type": "ended", "reason": outcome.reason})
            await self._room_changed(room, "ended")
            if self._on_end is not None:
                self._on_end(room.interview_id)
        return outcome

    def _open_outbox(self, room: Room) -> RoomOutbox:
        async def lost(kind: str, label: str, error: BaseException) -> None:
            if isinstance(error, StaleOwnerError):
                # Not lost: the room runs in another process now, which has the state. This one
                # missed the handover; it stops.
                metrics.LEASE_CONFLICTS.inc()
                log.warning(
                    "interview %s: %s refused, another process owns the room", room.interview_id, label
                )
                if not room.closed.is_set():
                    asyncio.get_running_loop().create_task(self._drop(room, taken_over=True))
                return
            what = "an answer or question" if kind == "turn" else "the interview's progress"
            message = f"could not save {what} ({label}) after retrying: {type(error).__name__}"
            event = {"type": "error", "scope": "storage", "kind": kind, "message": message}
            # To the watchers (the live channel), not the candidate's data channel: the candidate's
            # page answers an error by rejoining, which cannot bring the database back.
            await events.publish(self._runtime.redis, events.interview_channel(room.interview_id), event)

        async def unjournaled(kind: str, label: str) -> None:
            message = f"the write journal is full or unwritable: {label} is kept in memory only"
            event = {"type": "error", "scope": "journal", "kind": kind, "message": message}
            await events.publish(self._runtime.redis, events.interview_channel(room.interview_id), event)

        if self._journal is None:
            directory = room_writes.journal_dir(self._runtime.settings.data_dir)
            self._journal = Journal.create(directory)
        policy = RetryPolicy(budget_s=self._runtime.settings.write_retry_budget_s)
        return RoomOutbox(
            f"interview {room.interview_id}",
            policy=policy,
            on_failed=lost,
            journal=self._journal,
            on_unjournaled=unjournaled,
        )

    def _persist_turn(self, room: Room, outbox: RoomOutbox, record: TurnRecord) -> None:
        """Queue the turn the moment it ends; its event and scoring follow once it is stored."""
        question_id = (
            room.questions[record.question_index]
            if 0 <= record.question_index < len(room.questions)
            else None
        )
        audio_path = (
            room.recording.reference(record.speaker, record.started_s, record.ended_s)
            if room.recording is not None
            else None
        )
        entry = room_writes.turn_entry(
            # Chosen once: a retried insert (or a replay of the journal) finds its row.
            turn_id=uuid.uuid4(),
            interview_id=room.interview_id,
            question_id=question_id,
            speaker=record.speaker,
            text=record.text,
            started_s=record.started_s,
            ended_s=record.ended_s,
            latencies={**record.latencies, "kind": record.kind, "interrupted": record.interrupted},
            audio_path=audio_path,
            fence=room.lease.token if room.lease else None,
        )

        async def write() -> room_writes.StoredTurn:
            return await room_writes.store_turn(_stores(self._runtime), entry)

        async def stored(row: room_writes.StoredTurn) -> None:
            await self._turn_stored(room, record, row.turn_id, row.seq, row.recorded)

        label = f"turn {record.seq} ({record.speaker})"
        outbox.put(room_writes.TURN, label, write, after=stored, entry=entry)

    async def _turn_stored(
        self, room: Room, record: TurnRecord, turn_id: uuid.UUID, seq: int, recorded: bool
    ) -> None:
        metrics.observe_turn(record.speaker, {k.removesuffix("_s"): v for k, v in record.latencies.items()})
        await self._emit(
            room,
            {
                "type": "turn",
                "turn_id": str(turn_id),
                "seq": seq,
                "speaker": record.speaker,
                "kind": record.kind,
                "text": record.text,
                "question_index": record.question_index,
                "interrupted": record.interrupted,
                "latencies": record.latencies,
                # Everything a page shows comes with the event: no watcher reads the row back.
                "audio_url": live.audio_url(room.interview_id, seq) if recorded else None,
            },
        )
        if self._on_turn is not None:
            self._on_turn(room.interview_id, record, turn_id)

    async def _emit(self, room: Room, event: dict[str, Any]) -> None:
        """To the call's own data channel and to everyone watching the interview (pages)."""
        room.send_event(event)
        await events.publish(self._runtime.redis, events.interview_channel(room.interview_id), event)

    async def _room_changed(self, room: Room, state: str) -> None:
        await events.publish(
            self._runtime.redis,
            events.ROOMS_CHANNEL,
            {"type": "room", "interview_id": str(room.interview_id), "state": state},
        )

    async def _drop(self, room: Room, *, taken_over: bool = False) -> None:
        room.taken_over = room.taken_over or taken_over
        async with self._lock:
            registered = self._rooms.get(room.interview_id) is room
            if registered:
                del self._rooms[room.interview_id]
        await self._close_room(room)
        metrics.ACTIVE_CALLS.set(len(self._rooms))
        # A replaced or refused room was never, or is no longer, the live one; one taken over is
        # live in the other process, which says so.
        if registered and not room.taken_over:
            await self._room_changed(room, "left")

    async def _still_owned(self, lease: Lease) -> bool:
        try:
            return await self._leases.still_owned(lease)
        except (RedisError, OSError) as exc:
            # Cannot tell: keep the call. A newer owner's token in Postgres still fences its writes.
            log.warning("interview %s: could not check its room lease: %s", lease.interview_id, exc)
            return True

    async def _taken_over(self, interview_id: uuid.UUID, token: int) -> None:
        """Another process owns the room now (a rejoin reached it): stop ours, flushing its writes
        while its token still stands; closing releases the lease, which the new owner waits for."""
        async with self._lock:
            room = self._rooms.get(interview_id)
        if room is None or room.lease is None or room.lease.token != token:
            return
        log.info("interview %s: the candidate rejoined through another process; stopping here", interview_id)
        await self._drop(room, taken_over=True)

    async def _watch(self, room: Room) -> None:
        """Hang up a call that has gone silent (nobody speaking, no interviewer audio: a dead or
        abandoned connection, or a stranger holding a room) or has run past its length bound.
        The interview stays as it was saved after its last turn: a rejoin continues it."""
        settings = self._runtime.settings
        tick = min(1.0, settings.max_silent_s / 4)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(room.closed.wait(), tick)
                return
            now = time.monotonic()
            # Audio actually sent, not merely queued: a client that never connects never drains
            # the greeting, and must not look busy for ever.
            sent = room.outbound.last_audio_sent_at
            if sent is not None and sent > room.last_activity:
                room.last_activity = sent
            if now - room.started_at >= settings.max_call_s:
                reason = "max_duration"
            elif now - room.last_activity >= settings.max_silent_s:
                reason = "silence"
            else:
                continue
            log.info("interview %s: hanging up (%s)", room.interview_id, reason)
            metrics.CALLS.labels(f"hangup_{reason}").inc()
            with contextlib.suppress(Exception):  # the hang-up must happen even if Redis is down
                await self._emit(room, {"type": "hangup", "reason": reason})
            await self._drop(room)
            return

    async def _close_room(self, room: Room) -> None:
        if room.closed.is_set():
            return
        room.closed.set()
        # A room replaced by a rejoin here hands its listeners to the new room (same mix); only the
        # interview's last room here, or one taken over by another process, sends them away.
        last_room = room.lease is None or room.taken_over or self._leases.holds(room.lease)
        if room.watchdog is not None and room.watchdog is not asyncio.current_task():
            room.watchdog.cancel()
        # End the input first: the session sees the candidate leave and shuts down in order (its
        # state is saved after every turn); cancelling it mid-turn would leave livekit's tasks behind.
        if room.inbound is not None:
            room.inbound.stop()
        if room.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(room.task), self.shutdown_timeout_s)
            except TimeoutError:
                log.warning("interview %s session did not stop in time; cancelling", room.interview_id)
                room.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await room.task
            except Exception:
                log.exception("interview %s session ended with an error", room.interview_id)
        if room.outbox is not None:
            # A session cancelled mid-way has not flushed: its writes still land before a rejoin's
            # session reads the state back.
            await room.outbox.aclose()
        if room.lease is not None:
            await self._leases.release(room.lease)
        room.outbound.stop()
        if self._listening is not None and last_room:
            await self._listening.close_room(room.interview_id)
        try:
            await close_peer_connection(room.pc, f"interview {room.interview_id}")
        finally:
            if room.recording is not None:
                await asyncio.to_thread(room.recording.close)
            self._open_rooms.pop(id(room), None)
            room.shut.set()

    async def close(self) -> None:
        async with self._lock:
            rooms, self._rooms = list(self._rooms.values()), {}
        await asyncio.gather(*(self._close_room(r) for r in rooms))
        # Rooms not registered (an offer being negotiated) or already closing on their own (hung
        # up, replaced by a rejoin): closed means these too. Closing one that is closing only waits.
        others = list(self._open_rooms.values())
        await asyncio.gather(*(self._close_room(r) for r in others))
        try:
            await asyncio.wait_for(
                asyncio.gather(*(r.shut.wait() for r in others)), self.shutdown_timeout_s + 10
            )
        except TimeoutError:
            log.warning("%d rooms were still closing when the call manager closed", len(others))
        metrics.ACTIVE_CALLS.set(0)
        await self._leases.aclose()
        self._leases_started = False  # a manager closed and used again (tests do) starts them again
        if self._journal is not None:
            self._journal.close()  # removed, or kept for the next start if writes are left
            self._journal = None
