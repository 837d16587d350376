"""Synthesized speech kept by what is said, so each distinct sentence is synthesized once.

The interviewer pre-synthesizes what it may say next (the next planned question, the follow-up
templates, the closing) while the candidate answers; the reply then starts at once. The store behind
it is :class:`agent.tts_cache.SharedSpeechCache`: one per process, over Redis, so every interview
on every process shares each sentence; a plain :class:`SpeechCache` (memory) works too, on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from agent.models.base import AudioChunk, TextToSpeech
from agent.tts_cache import (
    CachedSpeech,
    MemorySpeechCache,
    SharedSpeechCache,
    SpeechCache,
    normalize_text,
    utterance_key,
    voice_spec,
)
from agent.tts_cache.flight import Flight

log = logging.getLogger(__name__)

__all__ = ["CachedSpeech", "MemorySpeechCache", "SpeechCache", "SpeechLibrary", "normalize_text"]


class SpeechLibrary:
    """Single-flight synthesis for one TTS (a voice, or a router of voices by language).

    ``urgent`` False for pre-synthesis nobody waits on: its model calls queue behind a live call's.
    """

    def __init__(
        self, tts: TextToSpeech, cache: SpeechCache | SharedSpeechCache, *, urgent: bool = True
    ) -> None:
        self._tts = tts
        if isinstance(cache, SharedSpeechCache):
            self._cache, self._owns_cache = cache, False
        else:
            self._cache, self._owns_cache = SharedSpeechCache(None, local=cache), True
        self._urgent = urgent
        self.synthesized = 0
        """Synthesis calls this library made (cache misses): a test proves each sentence is made once."""

    def key(self, text: str) -> str:
        return utterance_key(text, voice_spec(self._tts, text))

    def prefetch(self, text: str) -> None:
        """Start synthesizing ``text`` in the background unless it is cached or under way."""
        if text.strip():
            self._start(text)

    async def lookup(self, text: str, *, wait_s: float | None = None) -> CachedSpeech | None:
        """Cached audio for ``text``; waits up to ``wait_s`` for a synthesis under way in this process
        (None: no wait). Never starts a synthesis."""
        key = self.key(text)
        cached = await self._cache.get(key)
        if cached is not None or wait_s is None:
            return cached
        flight = self._cache.running(key)
        if flight is None:
            return None
        try:
            return await asyncio.wait_for(flight.result(), wait_s)
        except (TimeoutError, Exception):
            return None

    async def get(self, text: str) -> CachedSpeech:
        """The audio for ``text``, synthesizing it if nobody has (single-flight)."""
        return await self._start(text).result()

    def stream(self, text: str) -> AsyncIterator[AudioChunk]:
        """The audio for ``text`` as it becomes available: whole at once when cached, chunk by chunk
        while it is synthesized (here or, joined, by another request in this process)."""
        return self._start(text).follow()

    async def store(self, text: str, speech: CachedSpeech) -> None:
        await self._cache.put(self.key(text), speech)

    async def aclose(self) -> None:
        # A shared cache's flights belong to the process: another interview may be reading them.
        if self._owns_cache:
            await self._cache.aclose()

    def _start(self, text: str) -> Flight:
        if not text.strip():
            raise ValueError("nothing to synthesize")
        return self._cache.start(self.key(text), lambda: self._synthesize(text))

    async def _synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        self.synthesized += 1
        async for chunk in self._tts.stream(text, urgent=self._urgent):
            yield chunk
