"""The session's audio in and out without a LiveKit room: frames from the transport go in as
``rtc.AudioFrame``s, the agent's speech goes out as PCM segments into the transport's paced track.

The output honours the contract livekit's ``AudioOutput`` relies on (``wait_for_playout`` hangs on
any slip): ``on_playback_started`` when a segment's first frame is actually sent, not when captured;
``on_playback_finished`` exactly once per flushed segment, after its last frame is sent or it is
cleared; ``clear_buffer()`` a no-op when nothing of ours is unfinished, or the interrupted flag
leaks into the next reply. On barge-in livekit calls ``flush()`` and then ``clear_buffer()`` twice.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from agent.models.base import Pcm16

log = logging.getLogger(__name__)

INPUT_RATE = 16_000
OUTPUT_RATE = 48_000
"""What the transport's outbound track sends; livekit resamples TTS audio to it."""

SegmentStarted = Callable[[str, float], None]
SegmentFinished = Callable[[str, float, bool], None]


def wall_from_monotonic(t: float) -> float:
    """``time.time()`` of a ``time.monotonic()`` reading: livekit stamps its events with wall time."""
    return time.time() - (time.monotonic() - t)


def monotonic_from_wall(t: float) -> float:
    return time.monotonic() - (time.time() - t)


class AudioSink(Protocol):
    """What the transport's outbound track offers (media's ``PacedAudioTrack`` is one).

    Segments are played in the order they were first pushed. ``sent_at`` in the callbacks is
    ``time.monotonic()`` when the frame left; ``played_s`` counts real audio, not padding.
    """

    on_segment_started: SegmentStarted | None
    on_segment_finished: SegmentFinished | None

    def push(self, pcm: bytes, sample_rate: int, segment: str) -> None: ...

    def end_segment(self, segment: str) -> None: ...

    def clear(self) -> str | None:
        """Drop everything unsent; every unfinished segment finishes as interrupted."""
        ...

    async def wait_segment(self, segment: str) -> tuple[float, bool]: ...


class SinkEvents:
    """Fans one sink's callbacks out to several producers.

    A sink has one pair of callback slots, but two producers feed it: livekit's replies and the
    acknowledgement. Each listener ignores segments it did not push.
    """

    def __init__(self, sink: AudioSink) -> None:
        # Callbacks the sink already had (an observer set by its owner) keep being called.
        self._started: list[SegmentStarted] = [sink.on_segment_started] if sink.on_segment_started else []
        self._finished: list[SegmentFinished] = [sink.on_segment_finished] if sink.on_segment_finished else []
        sink.on_segment_started = self._on_started
        sink.on_segment_finished = self._on_finished

    def subscribe(
        self, *, started: SegmentStarted | None = None, finished: SegmentFinished | None = None
    ) -> None:
        if started is not None:
            self._started.append(started)
        if finished is not None:
            self._finished.append(finished)

    def _on_started(self, segment: str, sent_at: float) -> None:
        for callback in list(self._started):
            try:
                callback(segment, sent_at)
            except Exception:  # one listener's bug must not starve the others
                log.exception("segment-started listener failed")

    def _on_finished(self, segment: str, played_s: float, interrupted: bool) -> None:
        for callback in list(self._finished):
            try:
                callback(segment, played_s, interrupted)
            except Exception:
                log.exception("segment-finished listener failed")


class FrameSourceInput(io.AudioInput):
    """Feeds 20 ms frames of 16 kHz mono int16 (320 samples) from the transport to the session.

    The monotonic time each frame arrived is kept, so a latency can be measured from the moment the
    last voiced frame was received rather than from a detector's estimate of it.
    """

    def __init__(
        self,
        source: AsyncIterator[Pcm16],
        *,
        sample_rate: int = INPUT_RATE,
        label: str = "frame-source",
        history_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(label=label)
        self._source = source
        self._sample_rate = sample_rate
        self._clock = clock
        self._keep = max(1, int(history_s / 0.02))
        self._times: list[float] = []
        self._first_index = 0
        self.frames_received = 0
        self.ended = asyncio.Event()

    async def __anext__(self) -> rtc.AudioFrame:
        if self.ended.is_set():
            raise StopAsyncIteration
        try:
            samples = await anext(self._source)
        except StopAsyncIteration:
            self.ended.set()
            raise
        except Exception:
            # A transport that fails mid-call is a hang-up, not a crash of the session.
            log.exception("audio source failed; treating it as the end of input")
            self.ended.set()
            raise StopAsyncIteration from None
        now = self._clock()
        array = np.asarray(samples)
        if array.dtype != np.int16 or array.ndim != 1:
            raise ValueError("input frames must be 1-D int16 samples")
        self._record(now)
        return rtc.AudioFrame(
            data=array.tobytes(),
            sample_rate=self._sample_rate,
            num_channels=1,
            samples_per_channel=len(array),
        )

    def _record(self, now: float) -> None:
        self._times.append(now)
        self.frames_received += 1
        if len(self._times) > 2 * self._keep:
            drop = len(self._times) - self._keep
            del self._times[:drop]
            self._first_index += drop

    def received_at(self, index: int) -> float | None:
        """Monotonic arrival time of frame ``index`` (0-based), if still remembered."""
        pos = index - self._first_index
        return self._times[pos] if 0 <= pos < len(self._times) else None

    def last_received_at_or_before(self, t: float) -> float | None:
        """Arrival time of the last frame received at or before monotonic time ``t``."""
        pos = bisect.bisect_right(self._times, t)
        return self._times[pos - 1] if pos > 0 else None


@dataclass(slots=True)
class _Segment:
    id: str
    flushed: bool = False
    started: bool = False
    result: tuple[float, bool] | None = None
    """(played seconds, interrupted) once the sink finished it."""


class SinkAudioOutput(io.AudioOutput):
    """livekit's audio output over an :class:`AudioSink`; one sink segment per livekit segment."""

    def __init__(self, sink: AudioSink, events: SinkEvents, *, label: str = "paced-sink") -> None:
        super().__init__(
            label=label,
            capabilities=io.AudioOutputCapabilities(pause=False),
            sample_rate=OUTPUT_RATE,
        )
        self._sink = sink
        self._ids = itertools.count()
        self._capturing: _Segment | None = None
        self._segments: dict[str, _Segment] = {}
        events.subscribe(started=self._on_segment_started, finished=self._on_segment_finished)

    @property
    def busy(self) -> bool:
        """True while a reply of ours is captured, queued or playing in the sink."""
        return any(seg.result is None for seg in self._segments.values())

    def owns(self, segment: str) -> bool:
        return segment in self._segments

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._capturing is None:
            seg = _Segment(f"reply-{next(self._ids)}")
            self._segments[seg.id] = seg
            self._capturing = seg
        if self._capturing.result is not None:
            return  # cleared while still being captured: the sink would drop it anyway
        if frame.num_channels != 1:
            raise ValueError("the sink takes mono audio")
        self._sink.push(bytes(frame.data), frame.sample_rate, self._capturing.id)

    def flush(self) -> None:
        super().flush()
        seg, self._capturing = self._capturing, None
        if seg is None:
            return  # nothing captured since the last flush: no segment to finish
        seg.flushed = True
        if seg.result is not None:
            self._report(seg)
        else:
            # May finish it synchronously (everything already sent), which reports it.
            self._sink.end_segment(seg.id)

    def clear_buffer(self) -> None:
        if self.busy:
            self._sink.clear()

    def close(self) -> None:
        """Finish whatever is still open as interrupted, so no ``wait_for_playout`` outlives us."""
        for seg in list(self._segments.values()):
            if seg.result is None:
                seg.result = (0.0, True)
            seg.flushed = True
            self._report(seg)
        self._capturing = None

    def _on_segment_started(self, segment: str, sent_at: float) -> None:
        seg = self._segments.get(segment)
        if seg is None or seg.started:
            return
        seg.started = True
        self.on_playback_started(created_at=wall_from_monotonic(sent_at))

    def _on_segment_finished(self, segment: str, played_s: float, interrupted: bool) -> None:
        seg = self._segments.get(segment)
        if seg is None or seg.result is not None:
            return
        seg.result = (played_s, interrupted)
        if seg.flushed:
            self._report(seg)
        # else: cleared during capture; livekit's segment ends at its flush(), reported there

    def _report(self, seg: _Segment) -> None:
        if self._segments.pop(seg.id, None) is None or seg.result is None:
            return
        played_s, interrupted = seg.result
        self.on_playback_finished(playback_position=played_s, interrupted=interrupted)


def resample_pcm(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Mono s16 PCM at another rate, in one pass (one resampler for the whole clip)."""
    if from_rate == to_rate or not pcm:
        return pcm
    resampler = rtc.AudioResampler(input_rate=from_rate, output_rate=to_rate, num_channels=1)
    frame = rtc.AudioFrame(data=pcm, sample_rate=from_rate, num_channels=1, samples_per_channel=len(pcm) // 2)
    out = [bytes(f.data) for f in resampler.push(frame)]
    out.extend(bytes(f.data) for f in resampler.flush())
    return b"".join(out)


def pcm_frames(pcm: bytes, sample_rate: int, frame_ms: int = 20) -> list[rtc.AudioFrame]:
    """Split mono s16 PCM into frames of ``frame_ms`` (the last one shorter)."""
    step = sample_rate * frame_ms // 1000 * 2
    return [
        rtc.AudioFrame(
            data=pcm[i : i + step],
            sample_rate=sample_rate,
            num_channels=1,
            samples_per_channel=len(pcm[i : i + step]) // 2,
        )
        for i in range(0, len(pcm) - len(pcm) % 2, step)
    ]
