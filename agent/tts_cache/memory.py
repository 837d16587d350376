"""The in-process store: what a call uses when Redis is unreachable (and in unit tests)."""

from __future__ import annotations

from typing import Protocol

from agent.tts_cache.keys import CachedSpeech


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
