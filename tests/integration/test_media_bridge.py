"""The media bridge over real WebRTC: two aiortc peers in this process, talking over loopback.

The client plays the candidate (a recorded answer through ``FileAudioTrack``), the server reads it
with ``InboundAudio`` and answers through ``PacedAudioTrack``. Opus, DTLS-SRTP, ICE and aiortc's
jitter buffers are all real; only the browser is replaced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import av
import numpy as np
import numpy.typing as npt
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from media.files import FileAudioTrack, load_audio
from media.frames import Int16Array, PcmFrame
from media.ice import enable_loopback_candidates, rtc_configuration, strip_mdns_candidates
from media.inbound import InboundAudio
from media.outbound import PacedAudioTrack, SegmentFinished, SegmentStarted
from tests.fixtures_paths import find_fixture

SPEECH = "audio/en_librispeech_1089-134686-0000.flac"
WAIT_S = 10.0
VOICED_RMS = 300.0  # a 8000-amplitude tone has RMS ~5600; Opus-coded silence stays under ~10


def _rms(frame: Int16Array) -> float:
    return float(np.sqrt(np.mean(frame.astype(np.float64) ** 2)))


def _envelope(samples: Int16Array, size: int = 320) -> npt.NDArray[np.float64]:
    usable = len(samples) // size * size
    blocks = samples[:usable].astype(np.float64).reshape(-1, size)
    return np.asarray(np.sqrt((blocks**2).mean(axis=1)), dtype=np.float64)


def _tone(seconds: float, rate: int, freq: float = 440.0) -> Int16Array:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16)


def _synthetic_speech(rate: int) -> Int16Array:
    """A stand-in when the speech fixture is absent: tone and chirp bursts with pauses, so the
    envelope has structure to correlate."""
    t = np.arange(round(0.6 * rate)) / rate
    chirp = (np.sin(2 * np.pi * (200 * t + 1500 * t**2)) * 9000).astype(np.int16)
    pause = np.zeros(round(0.3 * rate), dtype=np.int16)
    return np.concatenate([pause, _tone(0.8, rate), pause, chirp, pause, _tone(0.4, rate, 660), pause])


def _answer_audio(rate: int) -> tuple[Int16Array, str | Int16Array]:
    """(reference at ``rate``, what the mic plays: the file itself, or 48 kHz samples)."""
    path = find_fixture(SPEECH)
    if path is not None:
        return load_audio(path, rate), str(path)
    return _synthetic_speech(rate), _synthetic_speech(48_000)


class Collector:
    """Reads one side's incoming audio in the background; tests wait on its condition, not on sleeps."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.inbound = InboundAudio(track)
        self.frames: list[PcmFrame] = []
        self._changed = asyncio.Condition()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for frame in self.inbound:
            self.frames.append(frame)
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_past(self, at: float) -> None:
        """Until a frame that arrived after monotonic time ``at`` was read."""
        await self.wait_for(lambda: bool(self.frames) and self.frames[-1].received_at > at)

    def voiced(self) -> list[PcmFrame]:
        return [f for f in self.frames if _rms(f.samples) > VOICED_RMS]

    async def close(self) -> None:
        self.inbound.stop()
        await asyncio.wait_for(self.task, 5)


class TimedTrack(PacedAudioTrack):
    """The server's voice, noting each frame's pts and the moment aiortc's sender got it."""

    def __init__(self, on_started: SegmentStarted, on_finished: SegmentFinished) -> None:
        super().__init__(on_segment_started=on_started, on_segment_finished=on_finished)
        self.log: list[tuple[int, float]] = []

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        assert frame.pts is not None
        self.log.append((frame.pts, time.monotonic()))
        return frame


@dataclass
class Call:
    client: RTCPeerConnection
    server: RTCPeerConnection
    mic: FileAudioTrack
    voice: TimedTrack
    at_server: MediaStreamTrack
    at_client: MediaStreamTrack
    offer_sdp: str
    answer_sdp: str
    started: list[tuple[str, float]] = field(default_factory=list)
    finished: list[tuple[str, float, bool]] = field(default_factory=list)


def _only_loopback(sdp: str) -> str:
    return "".join(
        line
        for line in sdp.splitlines(keepends=True)
        if not line.startswith("a=candidate:") or " 127.0.0.1 " in line
    )


async def _connected(pc: RTCPeerConnection) -> None:
    done = asyncio.get_running_loop().create_future()

    @pc.on("connectionstatechange")
    def _changed() -> None:
        if pc.connectionState in ("connected", "failed") and not done.done():
            done.set_result(pc.connectionState)

    if pc.connectionState != "connected":
        assert await asyncio.wait_for(done, 10) == "connected"


async def _open_call(rewrite: Callable[[str], str] = strip_mdns_candidates) -> Call:
    enable_loopback_candidates()
    client = RTCPeerConnection(rtc_configuration([]))
    server = RTCPeerConnection(rtc_configuration([]))
    mic = FileAudioTrack()
    client.addTrack(mic)
    tracks: dict[str, MediaStreamTrack] = {}
    client.on("track", lambda t: tracks.setdefault("client", t))
    server.on("track", lambda t: tracks.setdefault("server", t))

    # aiortc gathers all candidates inside setLocalDescription, so the SDPs are complete.
    await client.setLocalDescription(await client.createOffer())
    offer_sdp = rewrite(client.localDescription.sdp)
    await server.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
    events: tuple[list[tuple[str, float]], list[tuple[str, float, bool]]] = ([], [])
    voice = TimedTrack(
        lambda s, at: events[0].append((s, at)),
        lambda s, played, cut: events[1].append((s, played, cut)),
    )
    server.addTrack(voice)
    await server.setLocalDescription(await server.createAnswer())
    answer_sdp = rewrite(server.localDescription.sdp)
    await client.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
    await asyncio.gather(_connected(client), _connected(server))
    return Call(
        client, server, mic, voice, tracks["server"], tracks["client"], offer_sdp, answer_sdp, *events
    )


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    c = await _open_call()
    yield c
    await c.client.close()
    await c.server.close()


async def test_only_loopback_candidates_are_enough() -> None:
    c = await _open_call(rewrite=_only_loopback)
    try:
        for sdp in (c.offer_sdp, c.answer_sdp):
            candidates = [line for line in sdp.splitlines() if line.startswith("a=candidate:")]
            assert candidates
            assert all(" 127.0.0.1 " in line for line in candidates)
        heard = Collector(c.at_client)
        c.voice.push(_tone(0.2, 48_000).tobytes(), 48_000, "hello")
        c.voice.end_segment("hello")
        await heard.wait_for(lambda: len(heard.voiced()) >= 5)
        await heard.close()
    finally:
        await c.client.close()
        await c.server.close()


async def test_speech_reaches_the_server_whole(call: Call) -> None:
    reference, clip = _answer_audio(16_000)
    heard = Collector(call.at_server)
    duration = call.mic.play(clip)
    last_sent = await call.mic.wait_done()
    # The receiver holds a few frames (jitter buffer), so read on until well past the last one.
    await heard.wait_past(last_sent + 0.3)
    await heard.close()

    frames = heard.frames
    assert all(len(f.samples) == 320 and f.samples.dtype == np.int16 for f in frames)
    assert all(f.sample_rate == 16_000 for f in frames)
    arrivals = np.array([f.received_at for f in frames])
    assert (np.diff(arrivals) >= 0).all()
    assert abs(duration - len(reference) / 16_000) < 0.02

    received = np.concatenate([f.samples for f in frames])
    # Align by cross-correlating the envelopes (robust to Opus's phase changes), then compare.
    env_src, env_rx = _envelope(reference), _envelope(received)
    lags = np.correlate(env_rx - env_rx.mean(), env_src - env_src.mean(), mode="valid")
    lag = int(np.argmax(lags))
    aligned = env_rx[lag : lag + len(env_src)]
    assert len(aligned) == len(env_src), "part of the answer never arrived"
    correlation = float(np.corrcoef(aligned, env_src)[0, 1])
    assert correlation > 0.8

    # The spoken part lasts as long as in the file: nothing dropped, nothing stretched.
    def active_span(env: npt.NDArray[np.float64]) -> float:
        loud = np.flatnonzero(env > 0.1 * env.max())
        return float(loud[-1] - loud[0] + 1) * 0.02

    assert active_span(env_rx) == pytest.approx(active_span(env_src), rel=0.05)
    print(f"\nspeech: {duration:.2f} s, envelope correlation {correlation:.3f}, lag {lag * 20} ms")


async def test_server_voice_reaches_the_client_paced(call: Call) -> None:
    heard = Collector(call.at_client)
    pcm = _tone(2.0, 22_050, freq=300).tobytes()
    for start in range(0, len(pcm), 2 * 1858):  # TTS-sized chunks, at the voice model's rate
        call.voice.push(pcm[start : start + 2 * 1858], 22_050, "q1")
    call.voice.end_segment("q1")
    played, interrupted = await asyncio.wait_for(call.voice.wait_segment("q1"), 5)
    finished_at = time.monotonic()
    await heard.wait_past(finished_at + 0.25)
    await heard.close()

    assert played == pytest.approx(2.0, abs=0.005)
    assert interrupted is False
    assert [s for s, _ in call.started] == ["q1"]
    assert call.finished == [("q1", played, False)]
    voiced = heard.voiced()
    assert len(voiced) * 0.02 == pytest.approx(2.0, abs=0.1)
    assert voiced[0].received_at >= call.started[0][1]

    # pts run on without a gap, and aiortc's sender never got a frame ahead of real time.
    pts = [p for p, _ in call.voice.log]
    assert pts == [n * 960 for n in range(len(pts))]
    times = np.array([t for _, t in call.voice.log])
    ahead = (times - times[0]) - np.arange(len(times)) * 0.020
    assert ahead.min() > -0.002
    assert len(times) > 100
    print(
        f"\nvoice: {len(times)} frames in {times[-1] - times[0]:.2f} s, worst lag {ahead.max() * 1000:.0f} ms"
    )


async def test_clear_silences_the_client_at_once(call: Call) -> None:
    heard = Collector(call.at_client)
    call.voice.push(_tone(3.0, 48_000).tobytes(), 48_000, "long")
    call.voice.end_segment("long")
    await heard.wait_for(lambda: len(heard.voiced()) >= 25)

    cleared_at = time.monotonic()
    assert call.voice.clear() == "long"
    sent_at_clear = call.voice.audio_frames_sent
    assert not call.voice.playing
    await heard.wait_past(cleared_at + 0.4)
    await heard.close()

    assert call.voice.audio_frames_sent == sent_at_clear
    assert len(call.finished) == 1
    segment, played, interrupted = call.finished[0]
    assert (segment, interrupted) == ("long", True)
    assert 0.4 < played < 1.5
    assert await call.voice.wait_segment("long") == (played, True)

    # What is still heard after a clear is what was already on the wire or held by the client's
    # jitter buffer: no more than the path's own delay, measured on the segment's first frame.
    voiced = heard.voiced()
    path_delay = voiced[0].received_at - call.started[0][1]
    stop_delay = voiced[-1].received_at - cleared_at
    late = sum(1 for f in voiced if f.received_at > cleared_at)
    print(
        f"\nclear -> last voiced frame at the client: {stop_delay * 1000:.0f} ms ({late} frames); "
        f"first frame sent -> heard: {path_delay * 1000:.0f} ms"
    )
    # Counted in frames, not milliseconds (timing goals live in benchmarks): after a clear the
    # client hears at most what was in flight, plus a frame or two of scheduling noise.
    in_flight = round(path_delay / 0.020)
    assert late <= in_flight + 2, (late, in_flight)
