"""The candidate's audio: an aiortc track as an async iterator of 20 ms 16 kHz mono frames.

Opus decodes to 48 kHz packed stereo (shape (1, 1920)) whatever the sender captured, so every
source frame goes through the stream's one resampler and then a re-chunker: the resampler's first
output is 304 samples, not 320, and the speech models want exact 20 ms frames. The stream is led by
those missing samples as silence so that each 20 ms source frame completes exactly one output frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from media.frames import PcmFrame, Rechunker, StreamResampler
from media.recording import AudioSink

DEFAULT_RATE = 16_000
FRAME_MS = 20


class InboundAudio:
    """``async for frame in InboundAudio(track)`` until the track ends or ``stop()`` is called.

    A frame's ``received_at`` is the monotonic time the source frame that completed it came out of
    aiortc's receiver, i.e. when the audio became available to us (latency figures start there).
    """

    def __init__(
        self,
        track: MediaStreamTrack,
        *,
        sample_rate: int = DEFAULT_RATE,
        frame_ms: int = FRAME_MS,
        recorder: AudioSink | None = None,
    ) -> None:
        if track.kind != "audio":
            raise ValueError(f"expected an audio track, got {track.kind!r}")
        self.sample_rate = sample_rate
        self.frame_size = sample_rate * frame_ms // 1000
        self.frames_received = 0
        self.source_frames = 0
        self._track = track
        self._recorder = recorder
        self._resampler = StreamResampler(sample_rate)
        self._rechunker = Rechunker(self.frame_size)
        self._ready: deque[PcmFrame] = deque()
        self._ended = False
        self._stopped = asyncio.Event()

    def __aiter__(self) -> InboundAudio:
        return self

    async def __anext__(self) -> PcmFrame:
        while not self._ready:
            if self._ended or self._stopped.is_set():
                raise StopAsyncIteration
            source = await self._next_source()
            if source is None:
                self._finish_stream()
            else:
                self._accept(source)
        frame = self._ready.popleft()
        self.frames_received += 1
        if self._recorder is not None:
            self._recorder.write(frame.samples, frame.sample_rate, frame.received_at)
        return frame

    def stop(self) -> None:
        """End the iteration now; a pending ``__anext__`` wakes up and stops. Leaves the track alone."""
        self._stopped.set()
        self._ready.clear()

    async def _next_source(self) -> av.AudioFrame | None:
        """The next decoded frame, or None when the track ended or ``stop()`` was called."""
        recv = asyncio.ensure_future(self._track.recv())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait((recv, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (recv, stopped):
                if not fut.done():
                    fut.cancel()
                    # The cancelled recv must finish before we return, so no frame is left in flight.
                    with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                        await fut
        if not recv.done() or recv.cancelled():
            return None
        exc = recv.exception()
        if isinstance(exc, MediaStreamError):
            return None
        if exc is not None:
            raise exc
        frame = recv.result()
        if not isinstance(frame, av.AudioFrame):
            raise TypeError(f"audio track produced {type(frame).__name__}")
        return frame

    def _accept(self, source: av.AudioFrame) -> None:
        now = time.monotonic()
        self.source_frames += 1
        samples = self._resampler.resample(source)
        if self.source_frames == 1:
            samples = self._align(source, samples)
        for chunk in self._rechunker.push(samples):
            self._ready.append(PcmFrame(chunk, self.sample_rate, now))

    def _align(self, source: av.AudioFrame, first: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """Lead the stream with the resampler's delay as silence (1 ms for 48 -> 16 kHz).

        Otherwise every output frame would end 16 samples into the next source frame and be handed
        out one source frame (20 ms) late, for the whole call. Only when one source frame makes one
        output frame, as with Opus's 20 ms frames; other framings keep the plain order.
        """
        expected = round(source.samples * self.sample_rate / source.sample_rate)
        if expected != self.frame_size or len(first) >= expected:
            return first
        return np.concatenate((np.zeros(expected - len(first), dtype=np.int16), first))

    def _finish_stream(self) -> None:
        # After stop() the tail is not wanted; after the track ended it is the end of the speech.
        self._ended = True
        if self._stopped.is_set():
            return
        now = time.monotonic()
        for chunk in self._rechunker.push(self._resampler.flush()):
            self._ready.append(PcmFrame(chunk, self.sample_rate, now))
        tail = self._rechunker.flush()
        if tail is not None:
            self._ready.append(PcmFrame(tail, self.sample_rate, now))
