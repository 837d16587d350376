"""PCM frames and the two stream helpers every track needs: exact-size re-chunking and resampling.

Both helpers are stateful per stream on purpose: a resampler created per frame drops ~5% of the
audio (its filter delay is lost each time), and Opus/livekit hand out frame sizes that are not the
20 ms the other side expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

EMPTY: Int16Array = np.zeros(0, dtype=np.int16)


# eq=False: generated __eq__/__hash__ would compare/hash the ndarray, which is ambiguous/unhashable.
@dataclass(frozen=True, slots=True, eq=False)
class PcmFrame:
    """Mono int16 audio with the monotonic time its source frame arrived."""

    samples: Int16Array
    sample_rate: int
    received_at: float

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def as_int16_mono(samples: npt.ArrayLike, channels: int = 1) -> Int16Array:
    """Interleaved (or (n, channels)) int16 audio as a flat mono array, channels averaged."""
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        raise TypeError(f"expected int16 samples, got {arr.dtype}")
    flat = arr.reshape(-1)
    if channels == 1:
        return flat
    if flat.size % channels:
        raise ValueError(f"{flat.size} samples do not split into {channels} channels")
    mixed: Int16Array = flat.reshape(-1, channels).astype(np.int32).mean(axis=1).astype(np.int16)
    return mixed


def pcm_from_bytes(pcm: bytes) -> Int16Array:
    if len(pcm) % 2:
        raise ValueError("16-bit PCM must have an even number of bytes")
    return np.frombuffer(pcm, dtype=np.int16)


def to_audio_frame(samples: Int16Array, sample_rate: int, pts: int) -> av.AudioFrame:
    """An s16 mono av frame stamped in samples, the form aiortc's encoders take their RTP time from."""
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = Fraction(1, sample_rate)
    return frame


class Rechunker:
    """Turns a stream of arbitrarily sized int16 chunks into exact ``frame_size`` frames."""

    def __init__(self, frame_size: int) -> None:
        if frame_size <= 0:
            raise ValueError("frame_size must be positive")
        self.frame_size = frame_size
        self._pending: Int16Array = EMPTY

    @property
    def pending(self) -> int:
        """Samples held back until a full frame is available."""
        return len(self._pending)

    def push(self, samples: Int16Array) -> list[Int16Array]:
        buf = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        count = len(buf) // self.frame_size
        cut = count * self.frame_size
        # Copies, so a frame never aliases a caller's buffer that may be reused.
        frames = [buf[i : i + self.frame_size].copy() for i in range(0, cut, self.frame_size)]
        self._pending = buf[cut:].copy()
        return frames

    def flush(self) -> Int16Array | None:
        """The held-back tail padded with zeros to a full frame, or None when nothing is held."""
        if not len(self._pending):
            return None
        frame = np.zeros(self.frame_size, dtype=np.int16)
        frame[: len(self._pending)] = self._pending
        self._pending = EMPTY
        return frame


class StreamResampler:
    """One ``av.AudioResampler`` for a whole stream, producing mono int16 at ``target_rate``.

    The input format is fixed by the first input (av raises on a change), so use one instance per
    stream and a new one when a stream (or a TTS segment at another rate) starts.
    """

    def __init__(self, target_rate: int) -> None:
        self.target_rate = target_rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=target_rate)
        self._input_rate: int | None = None
        self._next_pts = 0

    def resample(self, frame: av.AudioFrame) -> Int16Array:
        """Any av frame (packed or planar, any layout) in; whatever output is ready comes out."""
        return self._collect(self._resampler.resample(frame))

    def resample_array(self, samples: npt.ArrayLike, sample_rate: int, channels: int = 1) -> Int16Array:
        """Interleaved int16 samples in; converted to an av frame so the same filter state is kept."""
        arr = np.ascontiguousarray(np.asarray(samples, dtype=np.int16).reshape(1, -1))
        if arr.size == 0:
            return EMPTY
        if self._input_rate is None:
            self._input_rate = sample_rate
        elif sample_rate != self._input_rate:
            raise ValueError(f"stream started at {self._input_rate} Hz, got {sample_rate} Hz")
        layout = {1: "mono", 2: "stereo"}.get(channels)
        if layout is None:
            raise ValueError(f"unsupported channel count {channels}")
        if arr.size % channels:
            raise ValueError(f"{arr.size} samples do not split into {channels} channels")
        frame = av.AudioFrame.from_ndarray(arr, format="s16", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = self._next_pts
        frame.time_base = Fraction(1, sample_rate)
        self._next_pts += arr.size // channels
        return self.resample(frame)

    def flush(self) -> Int16Array:
        """The samples still inside the filter (its delay); call once at the end of the stream."""
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: Sequence[av.AudioFrame | None]) -> Int16Array:
        # A passthrough resampler answers a flush with [None].
        arrays = [f.to_ndarray().reshape(-1) for f in frames if f is not None]
        if not arrays:
            return EMPTY
        out = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        return out.astype(np.int16, copy=False)
