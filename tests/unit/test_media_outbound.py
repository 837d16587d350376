"""The tracks driven directly, as aiortc drives them: ``recv()`` on the outbound and file tracks, and
an inbound reader over a track that yields what aiortc's Opus decoder yields.

These run in real time (20 ms per frame), so each keeps to a few dozen frames.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from media.files import FileAudioTrack
from media.frames import Int16Array
from media.inbound import InboundAudio
from media.outbound import PacedAudioTrack
from media.pacing import Pacer
from media.recording import WavRecorder


def _pcm(seconds: float, rate: int, amplitude: int = 8000) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * amplitude).astype(np.int16).tobytes()


def _samples(frame: av.AudioFrame) -> Int16Array:
    return np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)


class Events:
    def __init__(self) -> None:
        self.started: list[tuple[str, float]] = []
        self.finished: list[tuple[str, float, bool]] = []

    def on_started(self, segment: str, at: float) -> None:
        self.started.append((segment, at))

    def on_finished(self, segment: str, played: float, interrupted: bool) -> None:
        self.finished.append((segment, played, interrupted))


def _track(events: Events) -> PacedAudioTrack:
    return PacedAudioTrack(on_segment_started=events.on_started, on_segment_finished=events.on_finished)


async def test_frames_are_paced_with_continuous_pts() -> None:
    track = PacedAudioTrack()
    returned: list[float] = []
    frames = []
    for _ in range(60):
        frames.append(await track.recv())
        returned.append(time.monotonic())
    track.stop()
    for n, frame in enumerate(frames):
        assert (frame.pts, frame.sample_rate, frame.samples) == (n * 960, 48_000, 960)
        assert frame.time_base == Fraction(1, 48_000)
        assert (frame.format.name, frame.layout.name) == ("s16", "mono")
        # Never ahead of real time; 1 ms slack for the clock's granularity.
        assert returned[n] - returned[0] >= n * 0.020 - 0.001
    assert returned[-1] - returned[0] < 59 * 0.020 + 0.25
    assert (track.frames_sent, track.audio_frames_sent) == (60, 0)


async def test_a_segment_plays_in_order_then_silence() -> None:
    events = Events()
    track = _track(events)
    pcm = _pcm(0.25, 22_050)
    # TTS-sized chunks at another rate, as livekit hands them over.
    for start in range(0, len(pcm), 2 * 1858):
        track.push(pcm[start : start + 2 * 1858], 22_050, "q1")
    track.end_segment("q1")
    assert track.playing
    waiter = asyncio.create_task(track.wait_segment("q1"))
    frames = [_samples(await track.recv()) for _ in range(16)]
    played, interrupted = await waiter
    voiced = [bool(np.abs(f).max() > 1000) for f in frames]
    # 0.25 s = 12.5 frames: 13 frames of audio (the last one padded), then silence.
    assert voiced == [True] * 13 + [False] * 3
    assert not frames[-1].any()
    assert played == pytest.approx(0.25, abs=0.005)
    assert interrupted is False
    assert [s for s, _ in events.started] == ["q1"]
    assert events.finished == [("q1", played, False)]
    assert not track.playing
    assert await track.wait_segment("q1") == (played, False)  # late waiters get the result too
    track.stop()


async def test_started_fires_when_sent_not_when_queued() -> None:
    events = Events()
    track = _track(events)
    await track.recv()  # the pacer's origin
    track.push(_pcm(0.1, 48_000), 48_000, "a")
    assert events.started == []
    await track.recv()
    ((segment, sent_at),) = events.started
    assert segment == "a"
    assert sent_at <= time.monotonic()
    track.stop()


async def test_clear_drops_queued_audio_and_finishes_each_segment_once() -> None:
    events = Events()
    track = _track(events)
    track.push(_pcm(1.0, 48_000), 48_000, "ack")
    track.end_segment("ack")
    track.push(_pcm(1.0, 16_000), 16_000, "reply")  # queued behind, still streaming
    for _ in range(5):
        assert np.abs(_samples(await track.recv())).max() > 1000
    sent_before = track.audio_frames_sent
    pending = asyncio.ensure_future(track.recv())  # asleep until its deadline when clear() lands
    await asyncio.sleep(0)
    assert track.clear() == "ack"
    assert not (await pending).to_ndarray().any()
    assert not _samples(await track.recv()).any()
    assert track.audio_frames_sent == sent_before
    (ack, ack_played, ack_cut), reply = events.finished
    assert (ack, ack_cut) == ("ack", True)
    assert ack_played == pytest.approx(0.1)
    assert reply == ("reply", 0.0, True)
    assert [s for s, _ in events.started] == ["ack"]
    assert await track.wait_segment("reply") == (0.0, True)
    # The producer may still be flushing the cut reply: dropped, no second event.
    track.push(_pcm(0.1, 16_000), 16_000, "reply")
    track.end_segment("reply")
    assert not _samples(await track.recv()).any()
    assert track.clear() is None
    assert len(events.finished) == 2
    assert not track.playing
    track.stop()


async def test_segment_ended_after_its_audio_was_sent_finishes_at_end() -> None:
    events = Events()
    track = _track(events)
    track.push(_pcm(0.04, 48_000), 48_000, "s")
    for _ in range(3):
        await track.recv()
    assert events.finished == []  # underrun: the producer may still add audio
    track.end_segment("s")
    ((segment, played, interrupted),) = events.finished
    assert (segment, interrupted) == ("s", False)
    assert played == pytest.approx(0.04)
    track.end_segment("empty")
    assert events.finished[-1] == ("empty", 0.0, False)
    track.stop()


async def test_stop_releases_waiters_and_ends_recv() -> None:
    track = PacedAudioTrack()
    track.push(_pcm(1.0, 48_000), 48_000, "s")
    waiter = asyncio.create_task(track.wait_segment("s"))
    track.stop()
    assert await waiter == (0.0, True)
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_pacer_reanchors_after_a_stall_instead_of_bursting() -> None:
    stalled = 0.0

    def clock() -> float:
        return time.monotonic() + stalled

    pacer = Pacer(0.020, max_late_frames=3, clock=clock)
    await pacer.next_frame()
    stalled = 0.2  # as if the event loop had been blocked for ten frames
    start = time.monotonic()
    for _ in range(6):
        await pacer.next_frame()
    # The first frame after the stall goes at once; the other five keep the normal rate.
    assert time.monotonic() - start >= 5 * 0.020 - 0.002
    assert pacer.reanchors == 1
    assert pacer.index == 6


async def test_file_track_plays_then_returns_to_silence() -> None:
    track = FileAudioTrack()
    assert not _samples(await track.recv()).any()
    clip = np.frombuffer(_pcm(0.1, 48_000), dtype=np.int16)
    assert track.play(clip) == pytest.approx(0.1)
    done = asyncio.create_task(track.wait_done())
    frames = [_samples(await track.recv()) for _ in range(7)]
    finished_at = await done
    assert [bool(f.any()) for f in frames] == [True] * 5 + [False] * 2
    np.testing.assert_array_equal(np.concatenate(frames[:5]), clip)
    assert finished_at == track.last_audio_sent_at
    track.play(clip[:100])
    assert track.playing
    assert _samples(await track.recv())[:100].any()
    await track.wait_done()
    track.stop()


class _DecodedTrack(MediaStreamTrack):
    """Hands out what aiortc's Opus decoder would, as fast as asked, then ends like a remote track."""

    kind = "audio"

    def __init__(self, frames: list[av.AudioFrame]) -> None:
        super().__init__()
        self._frames = frames

    async def recv(self) -> av.AudioFrame:
        if not self._frames:
            self.stop()
            raise MediaStreamError
        return self._frames.pop(0)


def _decoded(seconds: float) -> list[av.AudioFrame]:
    mono = np.frombuffer(_pcm(seconds, 48_000), dtype=np.int16)
    frames = []
    for n, start in enumerate(range(0, len(mono), 960)):
        frame = av.AudioFrame.from_ndarray(
            np.repeat(mono[start : start + 960], 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48_000
        frame.pts = n * 960
        frame.time_base = Fraction(1, 48_000)
        frames.append(frame)
    return frames


async def test_inbound_gives_one_frame_per_source_frame_and_ends_cleanly(tmp_path: Path) -> None:
    recorder = WavRecorder(tmp_path / "in.wav", 16_000)
    inbound = InboundAudio(_DecodedTrack(_decoded(1.0)), recorder=recorder)
    frames = []
    counts = []
    async for frame in inbound:
        frames.append(frame)
        counts.append((inbound.frames_received, inbound.source_frames))
    recorder.close()
    # Each 20 ms source frame completes exactly one output frame, not one a frame later.
    assert counts[:50] == [(n, n) for n in range(1, 51)]
    assert inbound.source_frames == 50
    assert len(frames) == 51  # the last is the resampler's flushed tail, padded
    assert all(len(f.samples) == 320 and f.sample_rate == 16_000 for f in frames)
    assert abs(sum(len(f.samples) for f in frames) - 16_000) <= 320
    assert sf.info(str(tmp_path / "in.wav")).frames == 51 * 320
    with pytest.raises(StopAsyncIteration):
        await inbound.__anext__()


async def test_inbound_stop_wakes_a_waiting_reader() -> None:
    class Silent(MediaStreamTrack):
        kind = "audio"

        async def recv(self) -> av.AudioFrame:
            await asyncio.Event().wait()  # a remote track with nothing arriving
            raise AssertionError("unreachable")

    inbound = InboundAudio(Silent())
    reader = asyncio.ensure_future(inbound.__anext__())
    await asyncio.sleep(0)
    inbound.stop()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(reader, 1)
