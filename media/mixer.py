"""Both sides of a live call mixed into one 48 kHz track per listener (an interviewer listening in).

The call's tracks already hand every 20 ms frame to an ``AudioSink`` (the recording); ``LiveMix``
offers two more sinks, one per side, that the call tees into. A write resamples the side to 48 kHz
(one resampler per side, so its filter state spans the call), cuts 960-sample frames and appends
each to every listener's queue for that side. Nothing is mixed until a listener's track asks:
each ``ListenerTrack.recv()`` waits for its own 20 ms deadline, takes one frame per side (silence
for a side with none), and sums them with clipping.

Why per-listener queues rather than one shared mixed stream: the two sides arrive on their own
schedules (the candidate's in jitter-buffer bursts, the interviewer's only while it speaks), and
each listener's sender runs on its own clock; a queue per side and listener lets each absorb a
burst without any side waiting for the other. Each queue is bounded (``buffer_frames``): a
listener that falls behind loses its oldest frames, so its delay never grows past the bound.

Writes run on the call's 20 ms path on the event loop: they never await, never take a lock, and
return at once when nobody listens.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from media.frames import Int16Array, Rechunker, StreamResampler, to_audio_frame
from media.pacing import FRAME_S, Pacer
from media.recording import AudioSink

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
SILENCE: Int16Array = np.zeros(FRAME_SAMPLES, dtype=np.int16)
BUFFER_FRAMES = 6
"""Frames held per side and listener (120 ms): enough for the bursts aiortc's receive jitter
buffer releases (4 frames), small enough that with the receiver's 80 ms on each hop and the
browser's own buffer the candidate's voice reaches a listener well within 400 ms."""
_LOG_EVERY = 500
"""A sink that keeps failing is logged again every this many failures (10 s of frames)."""

CANDIDATE = 0
INTERVIEWER = 1


def mix_frames(frames: Sequence[Int16Array]) -> Int16Array:
    """The sum of equal-length int16 frames, clipped to int16 (a sum in int16 would wrap around
    and turn two loud voices into noise)."""
    if not frames:
        return SILENCE.copy()
    if len(frames) == 1:
        return frames[0]
    total = np.sum(np.stack(frames).astype(np.int32), axis=0)
    mixed: Int16Array = np.clip(total, -32768, 32767).astype(np.int16)
    return mixed


class TeeSink:
    """An ``AudioSink`` that writes to several: the call's recording and the live mix.

    A sink that raises is logged and skipped, and the next sinks still get the frame: a listener's
    mix (or a full disk) must never break the call that feeds it.
    """

    def __init__(self, *sinks: AudioSink) -> None:
        self.sinks = sinks
        self.failures = 0

    def write(self, samples: Int16Array, sample_rate: int, at: float) -> None:
        for sink in self.sinks:
            try:
                sink.write(samples, sample_rate, at)
            except Exception:
                self.failures += 1
                if self.failures % _LOG_EVERY == 1:
                    log.exception("audio sink %r failed (%d failures so far)", sink, self.failures)


@dataclass(slots=True, eq=False)
class _Queued:
    samples: Int16Array
    at: float  # when the source frame passed the call: how late the listener hears it


class ListenerTrack(MediaStreamTrack):
    """One listener's mixed audio, paced at real time, silence when neither side has a frame."""

    kind = "audio"

    def __init__(self, mix: LiveMix, *, buffer_frames: int = BUFFER_FRAMES, max_late_frames: int = 3) -> None:
        super().__init__()
        if buffer_frames < 1:
            raise ValueError("buffer_frames must be at least 1")
        self._mix = mix
        self._pacer = Pacer(FRAME_S, max_late_frames)
        self._queues: tuple[deque[_Queued], deque[_Queued]] = (
            deque(maxlen=buffer_frames),
            deque(maxlen=buffer_frames),
        )
        self.frames_sent = 0
        self.audio_frames_sent = 0
        self.dropped = 0
        """Frames lost because this listener fell behind (its queue was full)."""
        self.last_delay_s: float | None = None
        """Seconds from the newest frame of the last mix passing the call to it being sent."""

    def feed(self, side: int, samples: Int16Array, at: float) -> None:
        queue = self._queues[side]
        if len(queue) == queue.maxlen:
            self.dropped += 1  # the deque drops its oldest frame itself
        queue.append(_Queued(samples, at))

    @property
    def buffered(self) -> tuple[int, int]:
        """Frames waiting per side (candidate, interviewer)."""
        return len(self._queues[CANDIDATE]), len(self._queues[INTERVIEWER])

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._pacer.next_frame()
        if self.readyState != "live":
            raise MediaStreamError
        # Taken at the deadline, not before, so the frame is as fresh as it can be.
        items = [queue.popleft() for queue in self._queues if queue]
        self.frames_sent += 1
        if not items:
            return to_audio_frame(SILENCE, SAMPLE_RATE, index * FRAME_SAMPLES)
        self.audio_frames_sent += 1
        self.last_delay_s = time.monotonic() - max(item.at for item in items)
        return to_audio_frame(mix_frames([i.samples for i in items]), SAMPLE_RATE, index * FRAME_SAMPLES)

    def stop(self) -> None:
        super().stop()
        for queue in self._queues:
            queue.clear()
        self._mix.discard(self)


class _SideInput:
    """One side's sink: resample to 48 kHz, cut 20 ms frames, hand each to every listener."""

    def __init__(self, mix: LiveMix, side: int) -> None:
        self._mix = mix
        self._side = side
        self._resampler: StreamResampler | None = None
        self._input_rate: int | None = None
        self._rechunker = Rechunker(FRAME_SAMPLES)

    def write(self, samples: Int16Array, sample_rate: int, at: float) -> None:
        listeners = self._mix.listeners
        if not listeners:
            return  # the common case: nobody listens, and the call pays nothing
        for frame in self._rechunker.push(self._to_48k(samples, sample_rate)):
            for track in listeners:
                track.feed(self._side, frame, at)

    def _to_48k(self, samples: Int16Array, sample_rate: int) -> Int16Array:
        flat = np.asarray(samples, dtype=np.int16).reshape(-1)
        if sample_rate == SAMPLE_RATE:
            return flat
        resampler = self._resampler
        if resampler is None or sample_rate != self._input_rate:
            # A side keeps one rate for the whole call; a new rate (a rejoin at another rate) starts
            # a new resampler, since av's keeps its input format for life.
            resampler = self._resampler = StreamResampler(SAMPLE_RATE)
            self._input_rate = sample_rate
        return resampler.resample_array(flat, sample_rate)


class LiveMix:
    """The two taps of one call and the tracks of whoever listens to it."""

    def __init__(self, *, buffer_frames: int = BUFFER_FRAMES) -> None:
        self.buffer_frames = buffer_frames
        self._tracks: list[ListenerTrack] = []
        self.candidate: AudioSink = _SideInput(self, CANDIDATE)
        """Tee the candidate's inbound frames (any rate) into this."""
        self.interviewer: AudioSink = _SideInput(self, INTERVIEWER)
        """Tee the interviewer's outbound frames (any rate) into this."""

    @property
    def listeners(self) -> tuple[ListenerTrack, ...]:
        # A tuple, so a track stopped while a write walks the list cannot disturb the walk.
        return tuple(self._tracks)

    def track(self) -> ListenerTrack:
        """A new listener's output track; it stops receiving frames once stopped."""
        track = ListenerTrack(self, buffer_frames=self.buffer_frames)
        self._tracks.append(track)
        return track

    def discard(self, track: ListenerTrack) -> None:
        if track in self._tracks:
            self._tracks.remove(track)

    def close(self) -> None:
        """Stop every listener's track (their senders end); later writes do nothing."""
        for track in self.listeners:
            track.stop()
