"""The interviewer's voice: a continuously paced 48 kHz track fed segment by segment.

The track sends a frame every 20 ms for the whole call, silence when nothing is queued: an
idle/DTX mode broke in the prototype (the first packet after a gap was stamped on the old timeline,
and aiortc's receiver held the last packets of a burst until the next one). A queued frame is taken
only at its deadline, so ``clear()`` on barge-in drops everything not yet sent.

Segment events mirror what livekit's ``AudioOutput`` needs: started when the first frame is really
sent (not when queued), finished exactly once, when the last frame is sent or the segment is cleared.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from media.frames import Int16Array, Rechunker, StreamResampler, pcm_from_bytes, to_audio_frame
from media.pacing import FRAME_S, Pacer
from media.recording import AudioSink

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
SILENCE: Int16Array = np.zeros(FRAME_SAMPLES, dtype=np.int16)
# Finished segments remembered for late wait_segment() callers; older ones are forgotten.
_FINISHED_KEPT = 256

SegmentStarted = Callable[[str, float], None]
SegmentFinished = Callable[[str, float, bool], None]


@dataclass(slots=True)
class _Segment:
    id: str
    rechunker: Rechunker = field(default_factory=lambda: Rechunker(FRAME_SAMPLES))
    resampler: StreamResampler | None = None
    input_rate: int | None = None
    ended: bool = False
    has_audio: bool = False
    queued: int = 0  # frames in the track's queue
    played_samples: int = 0  # real (unpadded) samples already sent
    started_at: float | None = None
    done: asyncio.Future[tuple[float, bool]] | None = None


@dataclass(slots=True)
class _QueuedFrame:
    segment: _Segment
    samples: Int16Array
    real: int  # samples that are audio rather than end-of-segment padding


class PacedAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self,
        *,
        on_segment_started: SegmentStarted | None = None,
        on_segment_finished: SegmentFinished | None = None,
        recorder: AudioSink | None = None,
        max_late_frames: int = 3,
    ) -> None:
        super().__init__()
        self.on_segment_started = on_segment_started
        self.on_segment_finished = on_segment_finished
        self.frames_sent = 0  # silence included: the media timeline
        self.audio_frames_sent = 0
        self.last_audio_sent_at: float | None = None
        self._recorder = recorder
        self._pacer = Pacer(FRAME_S, max_late_frames)
        self._queue: deque[_QueuedFrame] = deque()
        self._segments: dict[str, _Segment] = {}  # not finished yet
        self._finished: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self._current: _Segment | None = None  # first frame sent, not finished

    # ---- producer side -------------------------------------------------------------------------

    def push(self, pcm: bytes, sample_rate: int, segment: str) -> None:
        """Queue 16-bit mono PCM of any rate for ``segment``. Audio for a finished (e.g. cleared)
        segment is dropped: on barge-in the producer may still be flushing its last chunk."""
        if segment in self._finished or self.readyState != "live":
            return
        seg = self._segment(segment)
        if seg.ended:
            raise ValueError(f"segment {segment!r} already ended")
        if seg.input_rate is None:
            seg.input_rate = sample_rate
        elif sample_rate != seg.input_rate:
            raise ValueError(f"segment {segment!r} started at {seg.input_rate} Hz, got {sample_rate} Hz")
        seg.has_audio = True
        samples = pcm_from_bytes(pcm)
        if sample_rate != SAMPLE_RATE:
            # One resampler per segment: its filter state must span the segment's chunks.
            if seg.resampler is None:
                seg.resampler = StreamResampler(SAMPLE_RATE)
            samples = seg.resampler.resample_array(samples, sample_rate)
        for chunk in seg.rechunker.push(samples):
            self._enqueue(seg, chunk, FRAME_SAMPLES)

    def end_segment(self, segment: str) -> None:
        """No more audio for ``segment``: its padded tail is queued and it finishes once sent."""
        if segment in self._finished:
            return
        seg = self._segment(segment)
        if seg.ended:
            return
        seg.ended = True
        if seg.resampler is not None:
            for chunk in seg.rechunker.push(seg.resampler.flush()):
                self._enqueue(seg, chunk, FRAME_SAMPLES)
        real_tail = seg.rechunker.pending
        tail = seg.rechunker.flush()
        if tail is not None:
            self._enqueue(seg, tail, real_tail)
        if seg.queued == 0:
            # Everything was already sent (or nothing was pushed) before the producer was done.
            self._finish(seg, interrupted=False)

    def clear(self) -> str | None:
        """Drop everything not yet sent; every unfinished segment finishes as interrupted.

        Returns the segment that was cut off (the one playing, else the first one waiting), or
        None when nothing was queued or playing, in which case no event fires.
        """
        self._queue.clear()
        # A segment only registered by wait_segment() has no audio yet: nothing of it to interrupt.
        victims = [seg for seg in self._segments.values() if seg.has_audio]
        if not victims:
            return None
        victim = self._current.id if self._current is not None else victims[0].id
        for seg in victims:
            seg.queued = 0
            self._finish(seg, interrupted=True)
        return victim

    async def wait_segment(self, segment: str) -> tuple[float, bool]:
        """(seconds played, interrupted) once ``segment`` finishes."""
        if segment in self._finished:
            return self._finished[segment]
        seg = self._segment(segment)
        if seg.done is None:
            seg.done = asyncio.get_running_loop().create_future()
        return await asyncio.shield(seg.done)

    @property
    def playing(self) -> bool:
        """True while agent audio is being sent or waits to be sent."""
        return self._current is not None or bool(self._queue)

    @property
    def queued_seconds(self) -> float:
        return len(self._queue) * FRAME_S

    def stop(self) -> None:
        """End the track; every unfinished segment finishes as interrupted so no waiter hangs."""
        self._queue.clear()
        for seg in list(self._segments.values()):
            self._finish(seg, interrupted=True)
        super().stop()

    # ---- consumer side (aiortc's sender) -------------------------------------------------------

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._pacer.next_frame()
        if self.readyState != "live":
            raise MediaStreamError
        # Taken only now, at the frame's deadline, so a clear() during the sleep drops it.
        item = self._queue.popleft() if self._queue else None
        now = time.monotonic()
        self.frames_sent += 1
        if item is None:
            return to_audio_frame(SILENCE, SAMPLE_RATE, index * FRAME_SAMPLES)
        self._sent(item, now)
        return to_audio_frame(item.samples, SAMPLE_RATE, index * FRAME_SAMPLES)

    # ---- internals -----------------------------------------------------------------------------

    def _segment(self, segment: str) -> _Segment:
        seg = self._segments.get(segment)
        if seg is None:
            seg = self._segments[segment] = _Segment(segment)
        return seg

    def _enqueue(self, seg: _Segment, samples: Int16Array, real: int) -> None:
        seg.queued += 1
        self._queue.append(_QueuedFrame(seg, samples, real))

    def _sent(self, item: _QueuedFrame, now: float) -> None:
        seg = item.segment
        seg.queued -= 1
        seg.played_samples += item.real
        self.audio_frames_sent += 1
        self.last_audio_sent_at = now
        if self._recorder is not None:
            self._recorder.write(item.samples, SAMPLE_RATE, now)
        if seg.started_at is None:
            seg.started_at = now
            self._current = seg
            self._notify(self.on_segment_started, seg.id, now)
        if seg.ended and seg.queued == 0:
            self._finish(seg, interrupted=False)

    def _finish(self, seg: _Segment, *, interrupted: bool) -> None:
        if self._segments.pop(seg.id, None) is None:
            return  # already finished: the event fires exactly once
        if self._current is seg:
            self._current = None
        result = (seg.played_samples / SAMPLE_RATE, interrupted)
        self._finished[seg.id] = result
        while len(self._finished) > _FINISHED_KEPT:
            self._finished.popitem(last=False)
        if seg.done is not None and not seg.done.done():
            seg.done.set_result(result)
        self._notify(self.on_segment_finished, seg.id, *result)

    @staticmethod
    def _notify(callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # the agent's bug must not stop the call's audio
            log.exception("segment callback %r failed", callback)
