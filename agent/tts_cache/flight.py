"""In-process single-flight with streaming: one producer task per utterance, any number of readers,
each of which gets every chunk from the first one on, as soon as it exists.

The producer runs as its own task, so a reader that goes away (a barge-in cancels its stream) never
stops the synthesis others wait for, and the finished audio still reaches the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from agent.models.base import AudioChunk
from agent.tts_cache.keys import CachedSpeech

log = logging.getLogger(__name__)


class Flight:
    """The chunks of one utterance as they are made, then its whole audio."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.chunks: list[AudioChunk] = []
        self._changed = asyncio.Event()
        self._done = asyncio.Event()
        self._error: BaseException | None = None
        self._speech: CachedSpeech | None = None
        self.task: asyncio.Task[None] | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def push(self, chunk: AudioChunk) -> None:
        if self._done.is_set():
            raise RuntimeError("flight already finished")
        self.chunks.append(chunk)
        self._wake()

    def finish(self, speech: CachedSpeech) -> None:
        if self._done.is_set():
            return
        if not self.chunks:
            self.chunks.append(AudioChunk(speech.pcm, speech.sample_rate, final=True))
        self._speech = speech
        self._done.set()
        self._wake()

    def fail(self, exc: BaseException) -> None:
        if self._done.is_set():
            return
        self._error = exc
        self._done.set()
        self._wake()

    def _wake(self) -> None:
        # One event per generation: readers waiting now wake, later ones wait for the next change.
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self) -> AsyncIterator[AudioChunk]:
        """Every chunk, from the first, as soon as it is pushed; raises the producer's error."""
        index = 0
        while True:
            while index < len(self.chunks):
                yield self.chunks[index]
                index += 1
            if self._done.is_set():
                if self._error is not None:
                    raise self._error
                return
            await self._changed.wait()

    async def result(self) -> CachedSpeech:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        if self._speech is None:
            raise RuntimeError("flight finished without audio")
        return self._speech


Producer = Callable[[Flight], Awaitable[None]]
"""Fills a flight: pushes chunks, then finishes (or fails) it."""


class LocalFlights:
    """At most one producer per key in this process."""

    def __init__(self) -> None:
        self._flights: dict[str, Flight] = {}

    def get(self, key: str) -> Flight | None:
        return self._flights.get(key)

    def start(self, key: str, producer: Producer) -> Flight:
        """The running flight for ``key``, or a new one run by ``producer``."""
        flight = self._flights.get(key)
        if flight is not None:
            return flight
        flight = Flight(key)
        self._flights[key] = flight
        flight.task = asyncio.create_task(self._run(flight, producer), name=f"tts-flight:{key[:12]}")
        return flight

    async def _run(self, flight: Flight, producer: Producer) -> None:
        try:
            await producer(flight)
            if not flight.done:
                flight.fail(RuntimeError("producer returned without finishing"))
        except asyncio.CancelledError:
            flight.fail(RuntimeError("synthesis cancelled"))
            raise
        except Exception as exc:
            log.warning("synthesis of %s failed: %s", flight.key[:12], exc)
            flight.fail(exc)
        finally:
            # Finished flights leave at once: the next request reads the cache, never stale chunks.
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]

    async def aclose(self) -> None:
        tasks = [f.task for f in self._flights.values() if f.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._flights)
