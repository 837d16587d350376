"""Recorded audio for testers: decode any file, and a track that speaks it into a call on cue.

``FileAudioTrack`` plays the part of the candidate's microphone: silence (a live mic is never
quiet on the wire either) until ``play()``, then the clip in real time, then silence again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from media.frames import EMPTY, Int16Array, Rechunker, StreamResampler, to_audio_frame
from media.pacing import FRAME_S, Pacer

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
_SILENCE: Int16Array = np.zeros(FRAME_SAMPLES, dtype=np.int16)


def load_audio(path: str | Path, sample_rate: int) -> Int16Array:
    """Decode the first audio stream of ``path`` (wav, flac, mp3, ...) to mono int16 at ``sample_rate``."""
    resampler = StreamResampler(sample_rate)
    chunks: list[Int16Array] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            chunks.append(resampler.resample(frame))
    chunks.append(resampler.flush())
    chunks = [c for c in chunks if len(c)]
    return np.concatenate(chunks) if chunks else EMPTY


class FileAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, *, max_late_frames: int = 3) -> None:
        super().__init__()
        self.frames_sent = 0
        self.audio_frames_sent = 0
        self.last_audio_sent_at: float | None = None
        self._pacer = Pacer(FRAME_S, max_late_frames)
        self._queue: deque[Int16Array] = deque()
        self._idle = asyncio.Event()
        self._idle.set()
        self._finished_at: float | None = None

    def play(self, audio: Int16Array | str | Path) -> float:
        """Queue a clip (48 kHz mono int16 samples, or a file of any format/rate) after anything
        still playing; returns its duration in seconds."""
        samples = load_audio(audio, SAMPLE_RATE) if isinstance(audio, str | Path) else audio
        samples = np.asarray(samples, dtype=np.int16).reshape(-1)
        rechunker = Rechunker(FRAME_SAMPLES)
        frames = rechunker.push(samples)
        tail = rechunker.flush()
        if tail is not None:
            frames.append(tail)
        if frames:
            self._queue.extend(frames)
            self._idle.clear()
        return len(samples) / SAMPLE_RATE

    async def wait_done(self) -> float:
        """Wait until every queued clip was sent; returns the monotonic time of the last audio frame."""
        await self._idle.wait()
        return self._finished_at if self._finished_at is not None else time.monotonic()

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()

    def stop(self) -> None:
        self._queue.clear()
        self._idle.set()
        super().stop()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._pacer.next_frame()
        if self.readyState != "live":
            raise MediaStreamError
        self.frames_sent += 1
        pts = index * FRAME_SAMPLES
        if not self._queue:
            return to_audio_frame(_SILENCE, SAMPLE_RATE, pts)
        samples = self._queue.popleft()
        now = time.monotonic()
        self.audio_frames_sent += 1
        self.last_audio_sent_at = now
        if not self._queue:
            self._finished_at = now
            self._idle.set()
        return to_audio_frame(samples, SAMPLE_RATE, pts)
