"""Tiny abstract bases for the model roles.

The public methods own the timeout, the worker thread and the metrics; implementations fill in
``_*_impl`` and run blocking code freely, because each model instance gets its own single-thread
executor (llama.cpp and most ONNX sessions are not safe to share across threads, and a model per
thread keeps one slow role from starving another).
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter, Histogram

from agent.errors import ModelError, ModelTimeoutError, ModelUnavailableError
from agent.models.executor import BACKGROUND, URGENT, PriorityExecutor

T = TypeVar("T")
EmbeddingKind = Literal["query", "passage"]
Vectors = npt.NDArray[np.float32]

MODEL_SECONDS = Histogram(
    "interviewer_model_call_seconds",
    "Wall time of one model call, queueing in the model's thread included",
    ["role", "model"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
MODEL_ERRORS = Counter("interviewer_model_errors_total", "Failed model calls", ["role", "model", "kind"])


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What was loaded, for logs and the ``models`` command."""

    role: str
    name: str
    path: str
    provider: str
    """The package or setting the model came from."""
    size_bytes: int
    load_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


class Model(ABC):  # noqa: B024 - abstract by role: the subclasses below declare the _impl
    """Common plumbing: a private single-thread executor and timed calls."""

    role: str = "model"

    def __init__(self, info: ModelInfo, *, timeout_s: float, workers: int = 1) -> None:
        """``workers``: threads serving calls; more than one only for libraries built for it."""
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.info = info
        self.timeout_s = timeout_s
        self._executor = PriorityExecutor(f"{self.role}-{info.name}", workers=workers)

    @property
    def queued(self) -> int:
        """Calls waiting for this model's thread (the running one not counted)."""
        return self._executor.queued

    @property
    def busy(self) -> bool:
        """Running or holding calls: work that is only nice to have waits for an idle model."""
        return self._executor.busy

    async def _call(
        self, fn: Callable[..., T], *args: Any, timeout_s: float | None = None, urgent: bool = True
    ) -> T:
        """Run ``fn`` on the model's thread. Non-urgent calls (work that only improves something,
        such as interim captions) wait behind every urgent one queued, whoever asked for it."""
        labels = (self.role, self.info.name)
        start = time.perf_counter()
        priority = URGENT if urgent else BACKGROUND
        try:
            return await asyncio.wait_for(
                asyncio.wrap_future(self._executor.submit_with_priority(priority, fn, *args)),
                timeout_s or self.timeout_s,
            )
        except TimeoutError as exc:
            MODEL_ERRORS.labels(*labels, "timeout").inc()
            raise ModelTimeoutError(f"{self.role} model {self.info.name} timed out") from exc
        except (ModelError, ModelTimeoutError):
            MODEL_ERRORS.labels(*labels, "error").inc()
            raise
        except Exception as exc:
            MODEL_ERRORS.labels(*labels, "error").inc()
            raise ModelError(f"{self.role} model {self.info.name} failed: {exc}") from exc
        finally:
            MODEL_SECONDS.labels(*labels).observe(time.perf_counter() - start)

    def _load_impl(self) -> None:  # noqa: B027 - a hook: models with nothing to load leave it empty
        """Read the model's files; runs on the model's own thread (see :meth:`_load_on_thread`)."""

    def _load_on_thread(self, what: str, details: Callable[[], dict[str, Any]] = dict) -> None:
        """Run ``_load_impl`` on the model's own thread, timed, and record what was loaded.

        The same thread later runs every call: libraries such as llama.cpp tie state to the
        thread that created it. Any failure becomes a ModelUnavailableError naming ``what``.
        """
        start = time.perf_counter()
        try:
            self._executor.submit(self._load_impl).result()
        except ModelUnavailableError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise ModelUnavailableError(f"cannot load {what}: {exc}") from exc
        self.info = replace(
            self.info, load_s=time.perf_counter() - start, details={**self.info.details, **details()}
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Embedder(Model):
    """Text -> L2-normalized vectors. ``query`` and ``passage`` may embed differently (E5 prefixes)."""

    role = "embeddings"
    dim: int = 384

    async def embed(self, texts: Sequence[str], kind: EmbeddingKind) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = await self._call(self._embed_impl, list(texts), kind)
        if vectors.shape != (len(texts), self.dim):
            raise ModelError(f"embedder returned shape {vectors.shape}, expected ({len(texts)}, {self.dim})")
        return vectors

    async def embed_one(self, text: str, kind: EmbeddingKind) -> Vectors:
        row: Vectors = (await self.embed([text], kind))[0]
        return row

    @abstractmethod
    def _embed_impl(self, texts: list[str], kind: EmbeddingKind) -> Vectors: ...


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    max_tokens: int = 128
    temperature: float = 0.2
    seed: int | None = 0
    """Fixed by default: plans and header extraction should be reproducible."""

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError("temperature must be within [0, 2]")


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class ChatLLM(Model):
    """A chat model that can be held to a JSON schema (grammar-constrained decoding)."""

    role = "llm"

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: dict[str, Any] | None = None,
        options: GenerationOptions = GenerationOptions(),
    ) -> Completion:
        if not messages:
            raise ValueError("messages must not be empty")
        return await self._call(self._complete_impl, list(messages), schema, options)

    @abstractmethod
    def _complete_impl(
        self, messages: list[ChatMessage], schema: dict[str, Any] | None, options: GenerationOptions
    ) -> Completion: ...


# --- speech roles ---------------------------------------------------------------------------------

Pcm16 = npt.NDArray[np.int16]
"""Mono signed 16-bit samples."""


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of mono s16 audio. ``final`` marks the last chunk of an utterance."""

    pcm: bytes
    sample_rate: int
    final: bool = False

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


@dataclass(frozen=True, slots=True)
class TranscriptWord:
    start_s: float
    end_s: float
    text: str
    """As the model spells it, leading space included: ``"".join(texts)`` rebuilds the phrase."""


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    start_s: float
    end_s: float
    text: str
    words: tuple[TranscriptWord, ...] = ()
    """Word timings where the model gives them; incremental transcription cuts the audio between
    words instead of waiting for the end of a segment."""


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    segments: tuple[TranscriptSegment, ...]
    audio_s: float
    seconds: float
    """Wall time the model took."""


class SpeechToText(Model):
    """16 kHz mono audio -> text. ``language`` None lets the model detect it."""

    role = "stt"
    sample_rate: int = 16_000

    async def transcribe(
        self, audio: Pcm16, *, language: str | None = None, prompt: str | None = None, urgent: bool = True
    ) -> Transcript:
        """``urgent`` False for interim transcripts: a final transcript someone waits on overtakes
        them on the model's thread."""
        if audio.dtype != np.int16 or audio.ndim != 1:
            raise ValueError("audio must be 1-D int16 samples at 16 kHz")
        return await self._call(self._transcribe_impl, audio, language, prompt, urgent=urgent)

    @abstractmethod
    def _transcribe_impl(self, audio: Pcm16, language: str | None, prompt: str | None) -> Transcript: ...


class TextToSpeech(Model):
    """Text -> mono s16 audio, streamed in chunks as the model produces them."""

    role = "tts"
    sample_rate: int = 22_050
    languages: frozenset[str] = frozenset({"en"})

    @abstractmethod
    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        """Yield PCM chunks; return early once ``stop`` is set (barge-in)."""

    async def stream(self, text: str, *, urgent: bool = True) -> AsyncIterator[AudioChunk]:
        """Chunks as they are synthesized. Cancelling the consumer stops the synthesis thread within
        one chunk, and the next synthesis is never stuck behind an abandoned one. ``urgent`` False
        for pre-synthesis nobody is waiting on: a live call's sentence overtakes it on the thread."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                for pcm in self._synthesize_impl(text, stop):
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, pcm)
            except BaseException as exc:  # handed to the consumer, re-raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        labels = (self.role, self.info.name)
        start = time.perf_counter()
        future = asyncio.wrap_future(
            self._executor.submit_with_priority(URGENT if urgent else BACKGROUND, produce)
        )
        try:
            pending: bytes | None = None
            while True:
                item = await asyncio.wait_for(queue.get(), self.timeout_s)
                if isinstance(item, BaseException):
                    MODEL_ERRORS.labels(*labels, "error").inc()
                    raise ModelError(f"tts model {self.info.name} failed: {item}") from item
                if item is None:
                    if pending is not None:
                        yield AudioChunk(pending, self.sample_rate, final=True)
                    break
                # Hold one chunk back so the last one can be marked final.
                if pending is not None:
                    yield AudioChunk(pending, self.sample_rate)
                pending = item
        except TimeoutError as exc:
            MODEL_ERRORS.labels(*labels, "timeout").inc()
            raise ModelTimeoutError(f"tts model {self.info.name} timed out") from exc
        finally:
            stop.set()
            MODEL_SECONDS.labels(*labels).observe(time.perf_counter() - start)
            await asyncio.shield(future)

    async def synthesize(self, text: str) -> AudioChunk:
        parts = [chunk.pcm async for chunk in self.stream(text)]
        return AudioChunk(b"".join(parts), self.sample_rate, final=True)


class VoiceActivityDetector(Model):
    """Speech probability per fixed-size frame of 16 kHz audio. Fast enough (~0.1 ms a frame) to run
    inline on the caller's thread; stateful, so one instance per audio stream."""

    role = "vad"
    sample_rate: int = 16_000
    frame_samples: int = 512

    def probability(self, frame: Pcm16) -> float:
        if frame.shape != (self.frame_samples,):
            raise ValueError(f"VAD frames must be {self.frame_samples} samples")
        return self._probability_impl(frame)

    @abstractmethod
    def _probability_impl(self, frame: Pcm16) -> float: ...

    @abstractmethod
    def reset(self) -> None:
        """Forget the stream state (a new utterance source)."""
