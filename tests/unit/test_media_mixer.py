"""The live mix: sums with clipping, resamples each side to 48 kHz, paces listeners at real time with
a bounded buffer, and a failing sink never reaches the call."""

from __future__ import annotations

import time

import numpy as np
import pytest

from media.frames import Int16Array
from media.mixer import FRAME_SAMPLES, SAMPLE_RATE, LiveMix, TeeSink, mix_frames


def _tone(freq: float, seconds: float, rate: int, amplitude: float = 8000) -> Int16Array:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


def _peak_hz(samples: Int16Array, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


class Recorder:
    def __init__(self) -> None:
        self.frames: list[Int16Array] = []

    def write(self, samples: Int16Array, sample_rate: int, at: float) -> None:
        self.frames.append(samples)


class Broken:
    def write(self, samples: Int16Array, sample_rate: int, at: float) -> None:
        raise RuntimeError("listener sink broke")


def test_mixing_sums_and_clips_instead_of_wrapping() -> None:
    a = np.array([1000, 30000, -30000, 0], dtype=np.int16)
    b = np.array([2000, 10000, -10000, -5], dtype=np.int16)
    assert mix_frames([a, b]).tolist() == [3000, 32767, -32768, -5]
    assert mix_frames([a]).tolist() == a.tolist()
    assert not mix_frames([]).any()


async def test_a_frame_from_each_side_is_mixed_and_resampled_to_48k() -> None:
    mix = LiveMix()
    track = mix.track()
    candidate = _tone(440, 0.2, 16_000)
    interviewer = _tone(880, 0.2, SAMPLE_RATE)
    now = time.monotonic()
    for i in range(10):  # 20 ms frames, as the call's tracks write them
        mix.candidate.write(candidate[i * 320 : (i + 1) * 320], 16_000, now)
        mix.interviewer.write(interviewer[i * 960 : (i + 1) * 960], SAMPLE_RATE, now)
    frames = [await track.recv() for _ in range(6)]
    assert all(f.sample_rate == SAMPLE_RATE and f.samples == FRAME_SAMPLES for f in frames)
    assert [f.pts for f in frames] == [n * FRAME_SAMPLES for n in range(6)]
    # The resampler's delay leaves the candidate's first frame short: from the second on both play.
    mixed = np.concatenate([f.to_ndarray().reshape(-1) for f in frames[1:]])
    spectrum = np.abs(np.fft.rfft(mixed.astype(np.float64) * np.hanning(len(mixed))))
    freqs = np.fft.rfftfreq(len(mixed), 1 / SAMPLE_RATE)
    strongest = sorted(float(freqs[i]) for i in np.argsort(spectrum)[-2:])
    assert strongest[0] == pytest.approx(440, abs=15)
    assert strongest[1] == pytest.approx(880, abs=15)
    track.stop()


async def test_silence_when_nothing_arrived_and_nothing_is_kept_without_listeners() -> None:
    mix = LiveMix()
    mix.candidate.write(_tone(440, 0.02, 16_000), 16_000, time.monotonic())  # nobody listens yet
    track = mix.track()
    assert track.buffered == (0, 0)
    frame = await track.recv()
    assert not frame.to_ndarray().any()
    assert track.audio_frames_sent == 0
    assert track.frames_sent == 1
    track.stop()
    assert mix.listeners == ()


async def test_listener_is_paced_at_real_time() -> None:
    mix = LiveMix()
    track = mix.track()
    await track.recv()  # the first frame is due at once
    start = time.monotonic()
    for _ in range(10):
        await track.recv()
    elapsed = time.monotonic() - start
    # Never ahead of real time; late only by what a busy machine adds.
    assert 0.195 <= elapsed < 0.35
    track.stop()


async def test_a_listener_that_falls_behind_keeps_only_the_newest_frames() -> None:
    mix = LiveMix(buffer_frames=5)
    track = mix.track()
    burst = _tone(880, 0.4, SAMPLE_RATE)  # 20 frames at once: 15 more than the buffer holds
    start = time.monotonic()
    for i in range(20):
        mix.interviewer.write(burst[i * 960 : (i + 1) * 960], SAMPLE_RATE, start + i * 0.02)
    assert track.buffered == (0, 5)
    assert track.dropped == 15
    first = await track.recv()
    # The frame played is the 16th of the burst (the oldest kept), not the first.
    assert np.array_equal(first.to_ndarray().reshape(-1), burst[15 * 960 : 16 * 960])
    # So the delay a listener adds stays within its buffer, however far behind it fell.
    assert track.last_delay_s is not None
    assert track.last_delay_s < 5 * 0.02
    track.stop()


async def test_stopped_tracks_leave_the_mix_and_close_stops_the_rest() -> None:
    mix = LiveMix()
    first, second = mix.track(), mix.track()
    first.stop()
    assert mix.listeners == (second,)
    mix.close()
    assert second.readyState == "ended"
    assert not mix.listeners
    mix.interviewer.write(_tone(880, 0.02, SAMPLE_RATE), SAMPLE_RATE, time.monotonic())


def test_a_failing_tee_sink_does_not_raise_and_the_others_still_get_the_frame(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before, after = Recorder(), Recorder()
    tee = TeeSink(before, Broken(), after)
    frame = _tone(440, 0.02, 16_000)
    for _ in range(3):
        tee.write(frame, 16_000, time.monotonic())
    assert len(before.frames) == len(after.frames) == 3
    assert tee.failures == 3
    # Logged once, not 50 times a second.
    assert sum("failed" in r.getMessage() for r in caplog.records) == 1


async def test_resampled_candidate_keeps_its_pitch() -> None:
    mix = LiveMix()
    track = mix.track()
    tone = _tone(440, 0.5, 16_000)
    for i in range(25):
        mix.candidate.write(tone[i * 320 : (i + 1) * 320], 16_000, time.monotonic())
    assert track.buffered == (6, 0)  # the buffer's bound: the newest 120 ms
    frames = [(await track.recv()).to_ndarray().reshape(-1) for _ in range(6)]
    assert _peak_hz(np.concatenate(frames), SAMPLE_RATE) == pytest.approx(440, abs=10)
    track.stop()
