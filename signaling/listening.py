"""Interviewers listening in on live calls: one receive-only WebRTC connection per listener.

Each live room of this process has a ``LiveMix`` (``media/mixer.py``) whose two taps the call tees
its candidate and interviewer frames into; ``listen`` answers a listener's recvonly offer with a
connection that sends that mix. The call never waits on a listener: the taps only queue frames,
and a listener's connection failing or closing touches nothing of the call's.

The call manager drives the room side (``taps`` when a call connects, ``close_room`` when its room
closes); the routes drive the listener side (``listen``, ``leave``). Everything runs on the event
loop, so the maps need no lock; the one await that can interleave (negotiation) is re-checked after.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiortc import RTCPeerConnection, RTCSessionDescription
from redis.asyncio import Redis

from agent.errors import CapacityError, InvalidSessionDescriptionError, NotFoundError
from db import events
from media.ice import (
    close_peer_connection,
    enable_loopback_candidates,
    rtc_configuration,
    strip_mdns_candidates,
)
from media.mixer import BUFFER_FRAMES, ListenerTrack, LiveMix
from media.recording import AudioSink
from signaling.sdp import answer_uses_opus, validate_offer

log = logging.getLogger(__name__)

IceServers = Sequence[Mapping[str, str | list[str]]]
LeftBecause = Literal["left", "room_closed", "connection_lost", "shutdown"]


@dataclass(frozen=True, slots=True)
class ListenAnswer:
    listener_id: uuid.UUID
    sdp: str


@dataclass(slots=True, eq=False)
class _Listener:
    id: uuid.UUID
    account: str
    pc: RTCPeerConnection
    track: ListenerTrack
    started_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True, eq=False)
class _Room:
    interview_id: uuid.UUID
    mix: LiveMix
    listeners: dict[uuid.UUID, _Listener] = field(default_factory=dict)


class Listening:
    """Listener connections per interview, given its dependencies explicitly.

    ``redis`` carries the ``listener`` events on the interview's channel (None: not published);
    ``ice_servers`` are the deployment's STUN/TURN servers; ``allow_loopback_ice`` offers 127.0.0.1
    host candidates, for a dashboard on the same machine; ``max_listeners`` bounds one room's
    listeners, since each costs an Opus encoder and a sender task on the call's process.
    """

    def __init__(
        self,
        *,
        redis: Redis | None,
        ice_servers: IceServers = (),
        allow_loopback_ice: bool = False,
        max_listeners: int = 4,
        buffer_frames: int = BUFFER_FRAMES,
    ) -> None:
        self._redis = redis
        self._ice_servers = list(ice_servers)
        self._max_listeners = max_listeners
        self._buffer_frames = buffer_frames
        self._rooms: dict[uuid.UUID, _Room] = {}
        if allow_loopback_ice:
            enable_loopback_candidates()

    def taps(self, interview_id: uuid.UUID) -> tuple[AudioSink, AudioSink]:
        """(candidate sink, interviewer sink) of the interview's live room, made on first use."""
        room = self._rooms.get(interview_id)
        if room is None:
            room = self._rooms[interview_id] = _Room(interview_id, LiveMix(buffer_frames=self._buffer_frames))
        return room.mix.candidate, room.mix.interviewer

    def listeners(self, interview_id: uuid.UUID) -> list[uuid.UUID]:
        room = self._rooms.get(interview_id)
        return list(room.listeners) if room is not None else []

    async def listen(self, interview_id: uuid.UUID, sdp: str, kind: str, account: str) -> ListenAnswer:
        """Answer a listener's offer with a connection that sends the room's mix."""
        parsed = validate_offer(sdp, kind)
        audio = [m for m in parsed.media if m.kind == "audio"]
        # A listener only receives: a section that also sends would give us audio nobody reads
        # (aiortc queues a remote track's frames until someone does).
        if len(audio) != 1 or audio[0].direction != "recvonly":
            raise InvalidSessionDescriptionError(
                "a listener's offer needs exactly one recvonly audio section"
            )
        room = self._rooms.get(interview_id)
        if room is None:
            raise NotFoundError(f"interview {interview_id} has no live call on this server")
        if len(room.listeners) >= self._max_listeners:
            raise CapacityError(f"this call already has {self._max_listeners} listeners; retry later")

        pc = RTCPeerConnection(rtc_configuration(self._ice_servers))
        track = room.mix.track()
        listener = _Listener(uuid.uuid4(), account, pc, track)
        pc.addTransceiver(track, direction="sendonly")
        negotiated = False
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=strip_mdns_candidates(sdp), type=kind))
            await pc.setLocalDescription(await pc.createAnswer())
            if not answer_uses_opus(pc.localDescription.sdp):
                raise InvalidSessionDescriptionError("no usable Opus audio in common with this offer")
            negotiated = True
        except InvalidSessionDescriptionError:
            raise
        # What aiortc raises here is about the offer our validation let through: still a 400.
        except Exception as exc:
            raise InvalidSessionDescriptionError(f"cannot negotiate this offer: {exc}") from exc
        finally:
            if not negotiated:
                track.stop()
                await close_peer_connection(pc, "a listener")
        if self._rooms.get(interview_id) is not room:  # the call ended while we negotiated
            track.stop()
            await close_peer_connection(pc, "a listener")
            raise NotFoundError(f"the call of interview {interview_id} has just ended")
        room.listeners[listener.id] = listener

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._remove(interview_id, listener.id, "connection_lost")

        log.info(
            "interview %s: %s started listening (listener %s, %d listening)",
            interview_id,
            account,
            listener.id,
            len(room.listeners),
        )
        await self._publish(interview_id, "joined", listener, listeners=len(room.listeners))
        return ListenAnswer(listener.id, strip_mdns_candidates(pc.localDescription.sdp))

    async def leave(self, interview_id: uuid.UUID, listener_id: uuid.UUID) -> None:
        """Stop one listener; NotFoundError when it is not listening to that interview."""
        if not await self._remove(interview_id, listener_id, "left"):
            raise NotFoundError(f"listener {listener_id} is not listening to interview {interview_id}")

    async def close_room(self, interview_id: uuid.UUID) -> None:
        """The interview's call ended: close its listeners and forget its mix. Idempotent."""
        room = self._rooms.pop(interview_id, None)
        if room is None:
            return
        for listener_id in list(room.listeners):
            await self._remove(interview_id, listener_id, "room_closed", room=room)
        room.mix.close()

    async def close(self) -> None:
        for interview_id in list(self._rooms):
            room = self._rooms.pop(interview_id)
            for listener_id in list(room.listeners):
                await self._remove(interview_id, listener_id, "shutdown", room=room)
            room.mix.close()

    async def _remove(
        self, interview_id: uuid.UUID, listener_id: uuid.UUID, why: LeftBecause, *, room: _Room | None = None
    ) -> bool:
        room = room or self._rooms.get(interview_id)
        listener = room.listeners.pop(listener_id, None) if room is not None else None
        if room is None or listener is None:
            return False  # already gone: a leave and a closed connection race, only one counts
        listener.track.stop()
        await close_peer_connection(listener.pc, f"listener {listener.id}")
        duration = time.monotonic() - listener.started_at
        log.info(
            "interview %s: %s stopped listening after %.1f s (listener %s, %s)",
            interview_id,
            listener.account,
            duration,
            listener.id,
            why,
        )
        await self._publish(
            interview_id,
            "left",
            listener,
            listeners=len(room.listeners),
            duration_s=round(duration, 1),
            reason=why,
        )
        return True

    async def _publish(
        self, interview_id: uuid.UUID, action: Literal["joined", "left"], listener: _Listener, **extra: Any
    ) -> None:
        if self._redis is None:
            return
        event = {
            "type": "listener",
            "action": action,
            "interview_id": str(interview_id),
            "listener_id": str(listener.id),
            "account": listener.account,
            **extra,
        }
        await events.publish(self._redis, events.interview_channel(interview_id), event)
