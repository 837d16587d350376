"""Synthesized speech kept by what is said, so each distinct sentence is synthesized once.

The interviewer pre-synthesizes what it may say next (the next planned question, the follow-up
templates, the closing) while the candidate answers; the reply then starts at once. The cache behind
it is a small protocol: in process now, Redis (shared across processes, single-flight) later.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from agent.models.base import TextToSpeech

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedSpeech:
    pcm: bytes
    """Mono s16."""
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class SpeechCache(Protocol):
    async def get(self, key: str) -> CachedSpeech | None: ...

    async def put(self, key: str, speech: CachedSpeech) -> None: ...


class MemorySpeechCache:
    """Bounded in-process cache, oldest entries dropped first."""

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._entries: dict[str, CachedSpeech] = {}
        self._max = max_entries

    async def get(self, key: str) -> CachedSpeech | None:
        return self._entries.get(key)

    async def put(self, key: str, speech: CachedSpeech) -> None:
        self._entries.pop(key, None)
        self._entries[key] = speech
        while len(self._entries) > self._max:
            self._entries.pop(next(iter(self._entries)))

    def __len__(self) -> int:
        return len(self._entries)


def normalize_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def speech_key(text: str, voice: str) -> str:
    """Key of an utterance: what is said and who says it, never a row id (the same sentence in two
    interviews is one entry)."""
    digest = hashlib.sha256(f"{voice}\x00{normalize_text(text)}".encode()).hexdigest()
    return f"tts:{digest}"


class SpeechLibrary:
    """Single-flight synthesis into a :class:`SpeechCache` for one TTS voice."""

    def __init__(self, tts: TextToSpeech, cache: SpeechCache) -> None:
        self._tts = tts
        self._cache = cache
        info = tts.info
        self._voice = f"{info.provider}/{info.name}/{tts.sample_rate}/s16"
        self._inflight: dict[str, asyncio.Task[CachedSpeech]] = {}
        self.synthesized = 0
        """Synthesis calls made (cache misses): a test proves each sentence is made once."""

    def key(self, text: str) -> str:
        return speech_key(text, self._voice)

    def prefetch(self, text: str) -> None:
        """Start synthesizing ``text`` in the background unless it is cached or under way."""
        if not text.strip():
            return
        key = self.key(text)
        if key in self._inflight:
            return
        task = asyncio.create_task(self._synthesize(key, text), name=f"prefetch:{text[:24]}")
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._done(key, t))

    async def lookup(self, text: str, *, wait_s: float | None = None) -> CachedSpeech | None:
        """Cached audio for ``text``; waits up to ``wait_s`` for a synthesis under way (None: no
        wait). Never starts a synthesis."""
        key = self.key(text)
        cached = await self._cache.get(key)
        if cached is not None or wait_s is None:
            return cached
        task = self._inflight.get(key)
        if task is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait_s)
        except (TimeoutError, Exception):
            return None

    async def get(self, text: str) -> CachedSpeech:
        """The audio for ``text``, synthesizing it if nobody has (single-flight)."""
        if not text.strip():
            raise ValueError("nothing to synthesize")
        key = self.key(text)
        self.prefetch(text)
        # The done-callback that forgets the task runs on a later loop turn, so it is still here.
        return await asyncio.shield(self._inflight[key])

    async def store(self, text: str, speech: CachedSpeech) -> None:
        await self._cache.put(self.key(text), speech)

    async def aclose(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _synthesize(self, key: str, text: str) -> CachedSpeech:
        cached = await self._cache.get(key)
        if cached is not None:
            return cached
        parts: list[bytes] = []
        rate = self._tts.sample_rate
        async for chunk in self._tts.stream(text):
            parts.append(chunk.pcm)
            rate = chunk.sample_rate
        self.synthesized += 1
        speech = CachedSpeech(b"".join(parts), rate)
        await self._cache.put(key, speech)
        return speech

    def _done(self, key: str, task: asyncio.Task[CachedSpeech]) -> None:
        self._inflight.pop(key, None)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.warning("pre-synthesis failed: %s", exc)
