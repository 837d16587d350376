"""Listening in over real WebRTC: a receive-only aiortc client, signed in as an interviewer, against
a real ``Listening`` whose taps are fed two known tones as a call would feed them (440 Hz as the
candidate at 16 kHz, 880 Hz as the interviewer at 48 kHz). Opus, DTLS-SRTP and ICE over loopback
are real; the call itself is replaced by the tones, so no speech model runs."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Any

import httpx
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from media.frames import Int16Array, PcmFrame
from media.ice import enable_loopback_candidates, rtc_configuration
from media.inbound import InboundAudio
from media.recording import AudioSink
from signaling.app import create_app
from signaling.listening import Listening
from signaling.runtime import Runtime
from signaling.settings import Settings
from tests.conftest import REVIEWER

pytestmark = pytest.mark.integration

WAIT_S = 10.0
HEARD_S = 1.0


def _tone(freq: float, rate: int, start: int, count: int) -> Int16Array:
    t = (start + np.arange(count)) / rate
    return (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16)


async def _feed(
    candidate: AudioSink, interviewer: AudioSink, speak: asyncio.Event, stop: asyncio.Event
) -> None:
    """20 ms frames on real time, as the call's inbound (16 kHz) and outbound (48 kHz) tracks write
    them: silence until ``speak`` is set, then both tones."""
    origin = time.monotonic()
    n = 0
    while not stop.is_set():
        now = time.monotonic()
        gain = 1 if speak.is_set() else 0
        candidate.write(gain * _tone(440, 16_000, n * 320, 320), 16_000, now)
        interviewer.write(gain * _tone(880, 48_000, n * 960, 960), 48_000, now)
        n += 1
        await asyncio.sleep(max(0.0, origin + n * 0.02 - time.monotonic()))


class Heard:
    """The listener's side: its connection and every frame it decoded; tests wait on a condition."""

    def __init__(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        self.pc = pc
        self.frames: list[PcmFrame] = []
        self._changed = asyncio.Condition()
        self.task = asyncio.create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        async for frame in InboundAudio(track, sample_rate=48_000):
            self.frames.append(frame)
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S), self._changed:
            await self._changed.wait_for(predicate)


async def _listen(http: httpx.AsyncClient, interview_id: uuid.UUID) -> tuple[Heard, dict[str, object]]:
    enable_loopback_candidates()
    pc = RTCPeerConnection(rtc_configuration([]))
    pc.addTransceiver("audio", direction="recvonly")
    got: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def _track(track: MediaStreamTrack) -> None:
        if not got.done():
            got.set_result(track)

    await pc.setLocalDescription(await pc.createOffer())
    r = await http.post(
        f"/api/interviews/{interview_id}/listen", json={"sdp": pc.localDescription.sdp, "type": "offer"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
    return Heard(pc, await asyncio.wait_for(got, WAIT_S)), body


def loud(frames: list[PcmFrame]) -> list[PcmFrame]:
    return [f for f in frames if np.sqrt(np.mean(f.samples.astype(np.float64) ** 2)) > 1000]


def _band_energy(samples: Int16Array, freq: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / 48_000)
    return float(spectrum[np.abs(freqs - freq) < 20].max())


@pytest.fixture
async def listening(runtime: Runtime) -> AsyncIterator[Listening]:
    made = Listening(redis=runtime.redis, allow_loopback_ice=True)
    # Until ``Runtime`` has its ``listening`` field, the route reads the attribute by name.
    runtime.listening = made
    yield made
    await made.close()
    runtime.listening = None


async def test_an_interviewer_hears_both_sides_and_leave_closes_the_connection(
    runtime: Runtime, reviewer: httpx.AsyncClient, listening: Listening
) -> None:
    interview_id = uuid.uuid4()
    channel: Any = runtime.redis.pubsub()  # redis's PubSub is partly untyped
    await channel.subscribe(f"events:interview:{interview_id}")
    speak, stop = asyncio.Event(), asyncio.Event()
    feeder = asyncio.create_task(_feed(*listening.taps(interview_id), speak, stop))
    heard, body = await _listen(reviewer, interview_id)
    try:
        assert body["type"] == "answer"
        assert body["ice_servers"] == []
        assert listening.listeners(interview_id) == [uuid.UUID(str(body["listener_id"]))]
        await heard.wait_for(lambda: len(heard.frames) >= 10)  # connected, hearing the call's silence
        assert not loud(heard.frames)
        spoke_at = time.monotonic()
        speak.set()

        await heard.wait_for(lambda: len(loud(heard.frames)) >= HEARD_S / 0.02)
        voiced = loud(heard.frames)
        # Mouth to listener: the tap's write to the client's decoded frame, through Opus, both
        # jitter buffers and the mix's own.
        delay = voiced[0].received_at - spoke_at
        assert delay < 0.4, f"the listener hears the call {delay * 1000:.0f} ms late"
        audio = np.concatenate([f.samples for f in voiced[-round(HEARD_S / 0.02) :]])
        floor = _band_energy(audio, 660)  # between the two tones: what Opus adds
        assert _band_energy(audio, 440) > 20 * floor, "the candidate's 440 Hz is missing"
        assert _band_energy(audio, 880) > 20 * floor, "the interviewer's 880 Hz is missing"
        print(f"\nlistener delay {delay * 1000:.0f} ms")

        r = await reviewer.delete(f"/api/interviews/{interview_id}/listen/{body['listener_id']}")
        assert r.status_code == 204, r.text
        assert listening.listeners(interview_id) == []
        # The server closed its side: the client's track ends by itself.
        await asyncio.wait_for(heard.task, WAIT_S)
        again = await reviewer.delete(f"/api/interviews/{interview_id}/listen/{body['listener_id']}")
        assert again.status_code == 404

        seen: list[dict[str, object]] = []
        async with asyncio.timeout(WAIT_S):
            while len(seen) < 2:
                message = await channel.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    seen.append(json.loads(message["data"]))
        assert [(e["type"], e["action"]) for e in seen] == [("listener", "joined"), ("listener", "left")]
        assert all(e["account"] == REVIEWER[0] for e in seen)
        assert isinstance(seen[1]["duration_s"], float)
        assert seen[1]["duration_s"] >= HEARD_S - 0.1
    finally:
        stop.set()
        await feeder
        heard.task.cancel()
        with suppress(asyncio.CancelledError):
            await heard.task
        await heard.pc.close()
        await channel.unsubscribe()
        await channel.aclose()


async def test_closing_the_room_closes_its_listeners(
    reviewer: httpx.AsyncClient, listening: Listening
) -> None:
    interview_id = uuid.uuid4()
    listening.taps(interview_id)
    heard, _ = await _listen(reviewer, interview_id)
    try:
        await heard.wait_for(lambda: bool(heard.frames))  # connected: silence flows while nobody speaks
        await listening.close_room(interview_id)
        await asyncio.wait_for(heard.task, WAIT_S)
        assert listening.listeners(interview_id) == []
        # The room is gone: listening to it now is a 404, not a connection to nothing.
        r = await reviewer.post(f"/api/interviews/{interview_id}/listen", json=await _offer())
        assert r.status_code == 404, r.text
    finally:
        await heard.pc.close()


async def _offer(direction: str = "recvonly") -> dict[str, str]:
    enable_loopback_candidates()
    pc = RTCPeerConnection(rtc_configuration([]))
    pc.addTransceiver("audio", direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return {"sdp": sdp, "type": "offer"}


async def test_only_interviewers_may_listen(
    client: httpx.AsyncClient, runtime: Runtime, listening: Listening
) -> None:
    interview_id = uuid.uuid4()
    listening.taps(interview_id)
    token = runtime.tokens.issue(interview_id)
    offer = await _offer()
    as_candidate = await client.post(
        f"/api/interviews/{interview_id}/listen", json=offer, headers={"Authorization": f"Bearer {token}"}
    )
    assert as_candidate.status_code == 401, as_candidate.text
    anonymous = await client.post(f"/api/interviews/{interview_id}/listen", json={**offer, "token": token})
    assert anonymous.status_code == 401
    stop = await client.delete(
        f"/api/interviews/{interview_id}/listen/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
    )
    assert stop.status_code == 401
    assert listening.listeners(interview_id) == []


async def test_bad_offers_are_400(reviewer: httpx.AsyncClient, listening: Listening) -> None:
    interview_id = uuid.uuid4()
    listening.taps(interview_id)
    url = f"/api/interviews/{interview_id}/listen"
    malformed = await reviewer.post(url, json={"sdp": "v=0\r\nm=audio nonsense\r\n", "type": "offer"})
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["error"]["code"] == "InvalidSessionDescriptionError"
    not_an_offer = await reviewer.post(url, json={**(await _offer()), "type": "answer"})
    assert not_an_offer.status_code == 400
    # An offer that would also send the listener's microphone into the server.
    sends = await reviewer.post(url, json=await _offer("sendrecv"))
    assert sends.status_code == 400, sends.text
    assert "recvonly" in sends.json()["error"]["message"]
    assert listening.listeners(interview_id) == []


async def test_listening_off_is_403_and_the_candidate_page_is_told(
    settings: Settings, runtime: Runtime, listening: Listening, client: httpx.AsyncClient
) -> None:
    interview_id = uuid.uuid4()
    listening.taps(interview_id)
    assert (await client.get("/api/listening")).json() == {"enabled": True, "ice_servers": []}
    off = settings.model_copy(update={"listening": False})
    transport = httpx.ASGITransport(app=create_app(off, runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as c:
        r = await c.post("/api/auth/login", json={"name": REVIEWER[0], "password": REVIEWER[1]})
        assert r.status_code == 200
        refused = await c.post(f"/api/interviews/{interview_id}/listen", json=await _offer())
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "FeatureDisabledError"
        assert (await c.get("/api/listening")).json() == {"enabled": False, "ice_servers": []}
    assert listening.listeners(interview_id) == []
