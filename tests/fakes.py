"""Fakes for unit tests. Each subclasses the real base, so the public method's timeout, thread and
metrics code runs for real; only ``_impl`` is scripted."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import utils
from livekit.agents import vad as lk_vad

from agent.errors import ModelError
from agent.models.base import (
    ChatLLM,
    ChatMessage,
    Completion,
    Embedder,
    EmbeddingKind,
    GenerationOptions,
    ModelInfo,
    Pcm16,
    SpeechToText,
    TextToSpeech,
    Transcript,
    TranscriptSegment,
    Vectors,
)
from agent.session.audio_io import AudioSink


def _info(role: str, name: str) -> ModelInfo:
    return ModelInfo(role=role, name=name, path="-", provider="tests", size_bytes=0)


class FakeLLM(ChatLLM):
    """Answers from a script: a fixed reply, a function of the messages, or an error."""

    def __init__(
        self,
        reply: str | dict[str, Any] | Callable[[list[ChatMessage]], str] = "{}",
        *,
        fail_with: Exception | None = None,
        delay_s: float = 0.0,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(_info("llm", "fake-llm"), timeout_s=timeout_s)
        self.reply = reply
        self.fail_with = fail_with
        self.delay_s = delay_s
        self.calls: list[list[ChatMessage]] = []

    def _complete_impl(
        self, messages: list[ChatMessage], schema: dict[str, Any] | None, options: GenerationOptions
    ) -> Completion:
        self.calls.append(messages)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        if callable(self.reply):
            text = self.reply(messages)
        elif isinstance(self.reply, dict):
            text = json.dumps(self.reply, ensure_ascii=False)
        else:
            text = self.reply
        return Completion(text=text, prompt_tokens=10, completion_tokens=10, seconds=0.0)


class FakeEmbedder(Embedder):
    """Deterministic bag-of-words vectors: texts sharing words are close, which is all retrieval
    tests need."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__(_info("embeddings", "fake-embedder"), timeout_s=5.0)
        self.fail = fail

    def _embed_impl(self, texts: list[str], kind: EmbeddingKind) -> Vectors:
        if self.fail:
            raise ModelError("embedder failed")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.casefold().split():
                bucket = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16) % self.dim
                out[row, bucket] += 1.0
            norm = float(np.linalg.norm(out[row])) or 1.0
            out[row] /= norm
        return out


# --- speech fakes (the live session) ----------------------------------------------------------------


class FakeSTT(SpeechToText):
    """Transcribes from a script: a fixed text, a function of the audio, or texts taken in order
    (the last one repeats). Records every call's audio length."""

    def __init__(
        self,
        reply: str | list[str] | Callable[[Pcm16], str] = "",
        *,
        language: str = "en",
        delay_s: float = 0.0,
        fail_with: Exception | None = None,
    ) -> None:
        super().__init__(_info("stt", "fake-stt"), timeout_s=5.0)
        self.reply = reply
        self.language = language
        self.delay_s = delay_s
        self.fail_with = fail_with
        self.calls: list[float] = []

    def _transcribe_impl(self, audio: Pcm16, language: str | None, prompt: str | None) -> Transcript:
        self.calls.append(len(audio) / self.sample_rate)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        if callable(self.reply):
            text = self.reply(audio)
        elif isinstance(self.reply, list):
            text = self.reply[min(len(self.calls) - 1, len(self.reply) - 1)] if self.reply else ""
        else:
            text = self.reply
        audio_s = len(audio) / self.sample_rate
        segments = (TranscriptSegment(0.0, audio_s, text),) if text else ()
        return Transcript(text, language or self.language, segments, audio_s, self.delay_s)


def tone(seconds: float, rate: int, *, freq: float = 440.0, amplitude: int = 6000) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16).tobytes()


class FakeTTS(TextToSpeech):
    """A tone per utterance, ``seconds_per_char`` long per character (bounded), in 0.1 s chunks."""

    def __init__(
        self,
        *,
        seconds_per_char: float = 0.01,
        max_seconds: float = 3.0,
        sample_rate: int = 22_050,
        delay_s: float = 0.0,
        fail_with: Exception | None = None,
    ) -> None:
        super().__init__(_info("tts", "fake-tts"), timeout_s=5.0)
        self.sample_rate = sample_rate
        self.seconds_per_char = seconds_per_char
        self.max_seconds = max_seconds
        self.delay_s = delay_s
        self.fail_with = fail_with
        self.texts: list[str] = []

    def duration(self, text: str) -> float:
        return min(self.max_seconds, max(0.1, len(text) * self.seconds_per_char))

    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        self.texts.append(text)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        pcm = tone(self.duration(text), self.sample_rate)
        step = self.sample_rate // 10 * 2
        for i in range(0, len(pcm), step):
            if stop.is_set():
                return
            yield pcm[i : i + step]


class FakeAudioSink(AudioSink):
    """The outbound track's contract (``agent.session.audio_io.AudioSink``) without aiortc.

    Segments play in push order, one 20 ms frame (960 samples at 48 kHz) at a time; a frame is taken
    only when it is sent, so ``clear()`` drops everything unsent. With ``autoplay`` a task sends a
    frame every 20 ms of real time (paced to monotonic deadlines, like the real track); without it
    the test sends frames with :meth:`send`.
    """

    RATE = 48_000
    FRAME = 960

    def __init__(self, *, autoplay: bool = False) -> None:
        self.on_segment_started: Callable[[str, float], None] | None = None
        self.on_segment_finished: Callable[[str, float, bool], None] | None = None
        self.autoplay = autoplay
        self.pushes: list[tuple[str, int, int]] = []
        """(segment, sample rate, bytes) per push."""
        self.clears: list[str | None] = []
        self.started: list[tuple[str, float]] = []
        self.finished: list[tuple[str, float, bool]] = []
        self.sent_frames = 0
        self._queue: list[tuple[str, int]] = []  # (segment, real samples) per queued frame
        self._pending: dict[str, bytearray] = {}
        self._open: dict[str, dict[str, Any]] = {}
        self._done: dict[str, tuple[float, bool]] = {}
        self._waiters: dict[str, list[asyncio.Future[tuple[float, bool]]]] = {}
        self._task: asyncio.Task[None] | None = None

    # producer side

    def push(self, pcm: bytes, sample_rate: int, segment: str) -> None:
        if segment in self._done:
            return
        if sample_rate != self.RATE:
            raise ValueError(f"fake sink takes {self.RATE} Hz, got {sample_rate}")
        seg = self._open.setdefault(segment, {"ended": False, "queued": 0, "played": 0, "started": False})
        if seg["ended"]:
            raise ValueError(f"segment {segment} already ended")
        self.pushes.append((segment, sample_rate, len(pcm)))
        buf = self._pending.setdefault(segment, bytearray())
        buf.extend(pcm)
        while len(buf) >= self.FRAME * 2:
            del buf[: self.FRAME * 2]
            self._enqueue(segment, self.FRAME)
        self._ensure_running()

    def end_segment(self, segment: str) -> None:
        if segment in self._done:
            return
        seg = self._open.setdefault(segment, {"ended": False, "queued": 0, "played": 0, "started": False})
        if seg["ended"]:
            return
        seg["ended"] = True
        tail = self._pending.pop(segment, bytearray())
        if tail:
            self._enqueue(segment, len(tail) // 2)
        if seg["queued"] == 0:
            self._finish(segment, interrupted=False)

    def clear(self) -> str | None:
        self._queue.clear()
        self._pending.clear()
        victims = [s for s, seg in self._open.items() if seg["queued"] or seg["started"] or seg["played"]]
        victims += [s for s in self._open if s not in victims and not self._open[s]["ended"]]
        playing = next((s for s in victims if self._open[s]["started"]), victims[0] if victims else None)
        self.clears.append(playing)
        for segment in victims:
            self._finish(segment, interrupted=True)
        return playing

    async def wait_segment(self, segment: str) -> tuple[float, bool]:
        if segment in self._done:
            return self._done[segment]
        fut: asyncio.Future[tuple[float, bool]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(segment, []).append(fut)
        return await fut

    # consumer side

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    def send(self, frames: int = 1) -> int:
        """Send up to ``frames`` queued frames now; returns how many were audio."""
        sent = 0
        for _ in range(frames):
            if not self._queue:
                break
            segment, real = self._queue.pop(0)
            seg = self._open[segment]
            now = time.monotonic()
            seg["queued"] -= 1
            seg["played"] += real
            self.sent_frames += 1
            sent += 1
            if not seg["started"]:
                seg["started"] = True
                self.started.append((segment, now))
                if self.on_segment_started is not None:
                    self.on_segment_started(segment, now)
            if seg["ended"] and seg["queued"] == 0:
                self._finish(segment, interrupted=False)
        return sent

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # internals

    def _enqueue(self, segment: str, real: int) -> None:
        self._open[segment]["queued"] += 1
        self._queue.append((segment, real))

    def _finish(self, segment: str, *, interrupted: bool) -> None:
        seg = self._open.pop(segment, None)
        if seg is None:
            return
        self._pending.pop(segment, None)
        result = (seg["played"] / self.RATE, interrupted)
        self._done[segment] = result
        self.finished.append((segment, *result))
        for fut in self._waiters.pop(segment, []):
            if not fut.done():
                fut.set_result(result)
        if self.on_segment_finished is not None:
            self.on_segment_finished(segment, *result)

    def _ensure_running(self) -> None:
        if self.autoplay and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._play())

    async def _play(self) -> None:
        deadline = time.monotonic()
        while True:
            deadline += 0.02
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.06:
                deadline = time.monotonic()  # resume at the normal rate after a stall
            self.send(1)


class FakeVAD(lk_vad.VAD):
    """livekit's VAD contract by loudness: a frame is speech when its RMS exceeds ``threshold``.

    Events mirror Silero's plugin: INFERENCE_DONE per frame (carrying that frame), START_OF_SPEECH
    after ``min_speech_s`` with the speech so far (prefix padding included), END_OF_SPEECH after
    ``min_silence_s`` of quiet with the whole speech. Tones are speech, zeros are silence.
    """

    def __init__(
        self, *, min_silence_s: float = 0.3, min_speech_s: float = 0.06, threshold: float = 500.0
    ) -> None:
        super().__init__(capabilities=lk_vad.VADCapabilities(update_interval=0.02))
        self.min_silence_s = min_silence_s
        self.min_speech_s = min_speech_s
        self.threshold = threshold

    def stream(self) -> lk_vad.VADStream:
        return _FakeVADStream(self)


class _FakeVADStream(lk_vad.VADStream):
    def __init__(self, vad: FakeVAD) -> None:
        super().__init__(vad)
        self._fake = vad

    async def _main_task(self) -> None:
        speaking = False
        speech_s = silence_s = 0.0
        raw_speech = raw_silence = 0.0
        buffer: list[rtc.AudioFrame] = []
        samples = 0
        async for item in self._input_ch:
            if not isinstance(item, rtc.AudioFrame):
                speaking, speech_s, silence_s, raw_speech, raw_silence, buffer = False, 0, 0, 0, 0, []
                continue
            data = np.frombuffer(bytes(item.data), dtype=np.int16).astype(np.float32)
            loud = bool(data.size) and float(np.sqrt(np.mean(data**2))) > self._fake.threshold
            duration = item.samples_per_channel / item.sample_rate
            samples += item.samples_per_channel
            buffer.append(item)
            if speaking:
                speech_s += duration
            else:
                silence_s += duration
            raw_speech, raw_silence = (raw_speech + duration, 0.0) if loud else (0.0, raw_silence + duration)
            self._event_ch.send_nowait(
                self._event(
                    lk_vad.VADEventType.INFERENCE_DONE,
                    samples,
                    speech_s,
                    silence_s,
                    [item],
                    speaking,
                    raw_speech,
                    raw_silence,
                    probability=1.0 if loud else 0.0,
                )
            )
            if not speaking:
                if loud and raw_speech >= self._fake.min_speech_s:
                    speaking, speech_s, silence_s = True, raw_speech, 0.0
                    self._event_ch.send_nowait(
                        self._event(
                            lk_vad.VADEventType.START_OF_SPEECH,
                            samples,
                            speech_s,
                            0.0,
                            [utils.merge_frames(buffer)],
                            True,
                            raw_speech,
                            raw_silence,
                        )
                    )
                elif not loud:
                    buffer = buffer[-10:]  # 0.2 s of prefix padding
            elif raw_silence >= self._fake.min_silence_s:
                speaking = False
                self._event_ch.send_nowait(
                    self._event(
                        lk_vad.VADEventType.END_OF_SPEECH,
                        samples,
                        max(0.0, speech_s - raw_silence),
                        raw_silence,
                        [utils.merge_frames(buffer)],
                        False,
                        raw_speech,
                        raw_silence,
                    )
                )
                speech_s, silence_s, buffer = 0.0, raw_silence, buffer[-10:]

    @staticmethod
    def _event(
        kind: lk_vad.VADEventType,
        samples: int,
        speech_s: float,
        silence_s: float,
        frames: list[rtc.AudioFrame],
        speaking: bool,
        raw_speech: float,
        raw_silence: float,
        *,
        probability: float = 0.0,
    ) -> lk_vad.VADEvent:
        return lk_vad.VADEvent(
            type=kind,
            samples_index=samples,
            timestamp=samples / 16_000,
            speech_duration=speech_s,
            silence_duration=silence_s,
            frames=frames,
            probability=probability,
            speaking=speaking,
            raw_accumulated_silence=raw_silence,
            raw_accumulated_speech=raw_speech,
        )


async def paced_source(
    script: Sequence[tuple[str, float] | Pcm16],
    *,
    until: asyncio.Event | None = None,
    max_tail_s: float = 0.0,
    rate: int = 16_000,
) -> AsyncIterator[Pcm16]:
    """20 ms frames in real time, as a transport delivers them: ``("silence", s)``, ``("tone", s)``
    or an int16 array (recorded speech); then, if ``until`` is given, silence until it is set or
    ``max_tail_s`` passes."""
    frame = rate // 50
    deadline = time.monotonic()
    phase = 0

    async def paced(samples: Pcm16) -> AsyncIterator[Pcm16]:
        nonlocal deadline, phase
        for start in range(0, len(samples) - frame + 1, frame):
            deadline += 0.02
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            phase += 1
            yield samples[start : start + frame]

    for item in script:
        if isinstance(item, tuple):
            kind, seconds = item
            n = round(seconds * rate)
            if kind == "tone":
                t = (np.arange(n) + phase * frame) / rate
                samples = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)
            else:
                samples = np.zeros(n, dtype=np.int16)
        else:
            samples = item
        async for out in paced(samples):
            yield out
    if until is not None:
        tail_end = time.monotonic() + max_tail_s
        silence = np.zeros(frame, dtype=np.int16)
        while not until.is_set() and time.monotonic() < tail_end:
            async for out in paced(silence):
                yield out
