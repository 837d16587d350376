"""Recording either side of a call to 16-bit mono WAV.

Tracks call ``write`` from the event loop 50 times a second; the disk write happens on a writer
thread so a slow disk never stalls the audio path. ``WavRecorder`` keeps only the audio;
``TimelineRecorder`` also places it on the call's clock, filling gaps with silence, so the
candidate's and the interviewer's files line up sample for sample when both share an origin.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import soundfile as sf

from media.frames import Int16Array, StreamResampler

log = logging.getLogger(__name__)


class AudioSink(Protocol):
    """What the tracks feed: mono int16 samples, their rate, and the monotonic time they passed."""

    def write(self, samples: Int16Array, sample_rate: int, at: float) -> None: ...


class WavRecorder:
    """Appends mono int16 audio to a WAV file at ``sample_rate``, resampling input of another rate."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.samples_written = 0
        self._file = sf.SoundFile(self.path, "w", samplerate=sample_rate, channels=1, subtype="PCM_16")
        self._queue: queue.SimpleQueue[Int16Array | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._resampler: StreamResampler | None = None
        self._resampler_rate: int | None = None
        self._thread = threading.Thread(target=self._drain, name=f"wav:{self.path.name}", daemon=True)
        self._thread.start()

    @property
    def duration(self) -> float:
        return self.samples_written / self.sample_rate

    def write(self, samples: Int16Array, sample_rate: int, at: float | None = None) -> None:
        """Queue audio for the file; ``at`` is accepted for the AudioSink interface and ignored."""
        with self._lock:
            if self._closed:
                return
            self._enqueue(self._convert(samples, sample_rate))

    def write_silence(self, count: int) -> None:
        with self._lock:
            if not self._closed and count > 0:
                self._enqueue(np.zeros(count, dtype=np.int16))

    def close(self) -> None:
        """Flush everything queued and close the file; later writes are ignored. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._resampler is not None:
                self._enqueue(self._resampler.flush())
            self._queue.put(None)
        self._thread.join()
        self._file.close()

    def _convert(self, samples: Int16Array, sample_rate: int) -> Int16Array:
        if sample_rate == self.sample_rate:
            return np.array(samples, dtype=np.int16).reshape(-1)
        # One side of a call has one rate, so one resampler keeps its filter state across frames.
        if self._resampler is None:
            self._resampler = StreamResampler(self.sample_rate)
            self._resampler_rate = sample_rate
        elif sample_rate != self._resampler_rate:
            raise ValueError(f"recorder fed at {self._resampler_rate} Hz, then {sample_rate} Hz")
        return self._resampler.resample_array(samples, sample_rate)

    def _enqueue(self, samples: Int16Array) -> None:
        if len(samples):
            self.samples_written += len(samples)
            self._queue.put(samples)

    def _drain(self) -> None:
        while (chunk := self._queue.get()) is not None:
            try:
                self._file.write(chunk)
            except Exception:  # a full disk must not kill the call; the recording just stops growing
                log.exception("writing %s failed", self.path)


class TimelineRecorder:
    """One side of the call on the call's clock: audio at the time it passed, silence in between.

    ``origin`` is the monotonic time that maps to sample 0; give both sides the same origin.
    Frames that arrive in a burst (jitter buffers release several at once) are appended back to
    back; silence is inserted only when the next frame's time is more than ``tolerance_s`` past the
    end of what is written. Because positions come from the absolute clock, that burst slack never
    accumulates over a long call.
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate: int,
        origin: float | None = None,
        tolerance_s: float = 0.02,
    ) -> None:
        self._wav = WavRecorder(path, sample_rate)
        self.sample_rate = sample_rate
        self.origin = time.monotonic() if origin is None else origin
        self.tolerance = round(tolerance_s * sample_rate)
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._wav.path

    @property
    def duration(self) -> float:
        return self._wav.duration

    def write(self, samples: Int16Array, sample_rate: int, at: float) -> None:
        position = round((at - self.origin) * self.sample_rate)
        with self._lock:
            gap = position - self._wav.samples_written
            if gap > self.tolerance:
                self._wav.write_silence(gap)
            self._wav.write(samples, sample_rate)

    def pad_to(self, at: float) -> None:
        """Extend with silence up to ``at``, so both sides' files end at the same moment."""
        with self._lock:
            self._wav.write_silence(round((at - self.origin) * self.sample_rate) - self._wav.samples_written)

    def close(self) -> None:
        self._wav.close()


Side = Literal["candidate", "interviewer"]
_REFERENCE = re.compile(
    r"^(?P<path>[A-Za-z0-9_./-]+\.wav)(?:#t=(?P<start>\d+(?:\.\d+)?),(?P<end>\d+(?:\.\d+)?))?$"
)


class CallRecording:
    """Both sides of one connection, each in its own WAV, on one clock starting at ``origin``.

    A turn is referenced as ``<file relative to the data dir>#t=<start>,<end>`` (a W3C media
    fragment, which browsers' audio elements play as is) rather than cut into a file per turn: the
    turn's boundaries are only known once it has ended, after its audio was written.
    """

    def __init__(self, root: Path, relative_dir: str, *, sample_rate: int = 16_000) -> None:
        if ".." in Path(relative_dir).parts or Path(relative_dir).is_absolute():
            raise ValueError(f"recording directory must stay inside the data dir: {relative_dir!r}")
        directory = root / relative_dir
        directory.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.origin = time.monotonic()
        # Each connection gets its own pair: a rejoin never overwrites the audio of earlier turns.
        stem = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns() % 1_000_000:06d}"
        self.files = {side: f"{relative_dir}/{stem}-{side}.wav" for side in ("candidate", "interviewer")}
        self.candidate = TimelineRecorder(root / self.files["candidate"], sample_rate, self.origin)
        self.interviewer = TimelineRecorder(root / self.files["interviewer"], sample_rate, self.origin)

    def reference(self, side: Side, start_s: float | None, end_s: float | None) -> str:
        """Where a turn's audio is: the side's file, and the span when both ends are known."""
        if start_s is None or end_s is None or end_s < start_s:
            return self.files[side]
        return f"{self.files[side]}#t={max(0.0, start_s):.2f},{end_s:.2f}"

    def close(self) -> None:
        """Pad both sides to the same end and close the files (blocks until written)."""
        now = time.monotonic()
        for recorder in (self.candidate, self.interviewer):
            recorder.pad_to(now)
            recorder.close()


def parse_reference(reference: str) -> tuple[str, float | None, float | None]:
    """``(relative path, start, end)`` of a turn's audio reference; ValueError for anything that is
    not a plain relative ``.wav`` path inside the data dir (references never become arbitrary paths)."""
    match = _REFERENCE.match(reference)
    if match is None or ".." in Path(match["path"]).parts or match["path"].startswith("/"):
        raise ValueError(f"not a recording reference: {reference!r}")
    start = float(match["start"]) if match["start"] else None
    end = float(match["end"]) if match["end"] else None
    return match["path"], start, end
