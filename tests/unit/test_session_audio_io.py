"""The audio output's contract with livekit, driven frame by frame through a fake sink, and the input
bridge. A slip in either hangs ``wait_for_playout`` in a live session, so each rule has a test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from livekit import rtc
from livekit.agents.voice import io

from agent.session.audio_io import (
    FrameSourceInput,
    SinkAudioOutput,
    SinkEvents,
    pcm_frames,
    resample_pcm,
)
from tests.fakes import FakeAudioSink, tone


class Recorder:
    def __init__(self, output: io.AudioOutput) -> None:
        self.started: list[float] = []
        self.finished: list[io.PlaybackFinishedEvent] = []
        output.on("playback_started", lambda ev: self.started.append(ev.created_at))
        output.on("playback_finished", self.finished.append)


def _frame(seconds: float = 0.02) -> rtc.AudioFrame:
    pcm = tone(seconds, 48_000)
    return rtc.AudioFrame(data=pcm, sample_rate=48_000, num_channels=1, samples_per_channel=len(pcm) // 2)


def _output() -> tuple[FakeAudioSink, SinkAudioOutput, Recorder]:
    sink = FakeAudioSink()
    output = SinkAudioOutput(sink, SinkEvents(sink))
    return sink, output, Recorder(output)


async def test_started_on_first_frame_sent_and_finished_once_after_last() -> None:
    sink, output, rec = _output()
    assert output.sample_rate == 48_000
    for _ in range(3):
        await output.capture_frame(_frame())
    assert rec.started == []  # captured is not played
    output.flush()
    sink.send(1)
    assert len(rec.started) == 1
    sink.send(1)
    assert rec.finished == []
    sink.send(5)
    assert len(rec.started) == 1
    assert len(rec.finished) == 1
    assert rec.finished[0].interrupted is False
    assert rec.finished[0].playback_position == pytest.approx(0.06)
    done = await asyncio.wait_for(output.wait_for_playout(), 1)
    assert done.interrupted is False


async def test_each_segment_finishes_exactly_once() -> None:
    sink, output, rec = _output()
    for _ in range(2):
        await output.capture_frame(_frame())
        output.flush()
    sink.send(10)
    assert len(rec.started) == 2
    assert [ev.interrupted for ev in rec.finished] == [False, False]
    output.flush()  # a flush with nothing captured opens and closes nothing
    assert len(rec.finished) == 2
    await asyncio.wait_for(output.wait_for_playout(), 1)


async def test_barge_in_flush_then_two_clears_finishes_once_interrupted() -> None:
    sink, output, rec = _output()
    for _ in range(10):
        await output.capture_frame(_frame())
    sink.send(2)
    output.flush()
    output.clear_buffer()
    output.clear_buffer()
    assert len(sink.clears) == 1
    assert len(rec.finished) == 1
    assert rec.finished[0].interrupted is True
    assert rec.finished[0].playback_position == pytest.approx(0.04)
    assert sink.queued_frames == 0
    await asyncio.wait_for(output.wait_for_playout(), 1)


async def test_clear_with_nothing_captured_is_a_no_op() -> None:
    sink, output, rec = _output()
    output.clear_buffer()
    assert sink.clears == []
    # A reply played to the end, then a stray clear: it must not mark the next reply interrupted.
    await output.capture_frame(_frame())
    output.flush()
    sink.send(5)
    output.clear_buffer()
    assert sink.clears == []
    await output.capture_frame(_frame())
    output.flush()
    sink.send(5)
    assert [ev.interrupted for ev in rec.finished] == [False, False]


async def test_clear_during_capture_finishes_at_flush() -> None:
    _sink, output, rec = _output()
    await output.capture_frame(_frame())
    output.clear_buffer()
    assert rec.finished == []  # livekit's segment ends at its flush, not before
    await output.capture_frame(_frame())  # the producer may still push its last chunk
    output.flush()
    assert len(rec.finished) == 1
    assert rec.finished[0].interrupted is True
    await asyncio.wait_for(output.wait_for_playout(), 1)


async def test_other_producers_segments_are_ignored() -> None:
    sink, output, rec = _output()
    sink.push(tone(0.04, 48_000), 48_000, "ack-0")
    sink.end_segment("ack-0")
    sink.send(5)
    assert rec.started == []
    assert rec.finished == []
    assert not output.busy


async def test_close_finishes_open_segments() -> None:
    _sink, output, rec = _output()
    await output.capture_frame(_frame())
    output.flush()
    output.close()
    assert len(rec.finished) == 1
    assert rec.finished[0].interrupted
    await asyncio.wait_for(output.wait_for_playout(), 1)


async def _frames(n: int) -> AsyncIterator[np.ndarray]:
    for i in range(n):
        yield np.full(320, i, dtype=np.int16)
        await asyncio.sleep(0.001)


async def test_frame_source_input_bridges_and_records_arrival() -> None:
    source = FrameSourceInput(_frames(5))
    frames = [frame async for frame in source]
    assert len(frames) == 5
    assert frames[2].sample_rate == 16_000
    assert frames[2].samples_per_channel == 320
    assert np.frombuffer(bytes(frames[3].data), dtype=np.int16)[0] == 3
    assert source.ended.is_set()
    times = [t for t in (source.received_at(i) for i in range(5)) if t is not None]
    assert len(times) == 5
    assert times == sorted(times)
    t2 = times[2]
    assert source.last_received_at_or_before(t2 + 0.0005) == t2
    assert source.last_received_at_or_before(0.0) is None


async def test_frame_source_rejects_non_int16() -> None:
    async def floats() -> AsyncIterator[np.ndarray]:
        yield np.zeros(320, dtype=np.float32)

    with pytest.raises(ValueError, match="int16"):
        await FrameSourceInput(floats()).__anext__()


def test_resample_and_split() -> None:
    pcm = tone(1.0, 22_050)
    out = resample_pcm(pcm, 22_050, 48_000)
    assert abs(len(out) // 2 - 48_000) < 200
    frames = pcm_frames(tone(0.05, 16_000), 16_000)
    assert [f.samples_per_channel for f in frames] == [320, 320, 160]
