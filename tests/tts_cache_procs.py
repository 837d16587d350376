"""Worker processes for the cross-process TTS cache tests and benchmark.

Each worker is a real OS process (``multiprocessing`` spawn) with its own event loop, Redis client
and :class:`SharedSpeechCache`, asking for the same utterance as the others. It reports through its
own pipe (a process killed mid-write garbles only its own reports, where a shared queue's lock
would stay held): every cache event, with the system-wide monotonic time (comparable across
processes on one host), then each request's result. Tests wait on those reports, never on sleeps.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing as mp
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Literal

from agent.models.base import ModelInfo, TextToSpeech
from agent.session.speech import SpeechLibrary
from agent.tts_cache import CacheOptions, SharedSpeechCache

CTX = mp.get_context("spawn")
REPORT_TIMEOUT_S = 90.0
"""Bounds every wait for a report, so a broken cache fails instead of hanging."""
GATE_TIMEOUT_S = 120.0
"""A gate nobody opens (a failed test) releases eventually, so no process hangs forever."""


def expected_pcm(text: str) -> bytes:
    """What :class:`GatedTTS` says for ``text``: deterministic, different per text, 4 chunks."""
    return hashlib.sha256(text.encode()).digest() * 40


class GatedTTS(TextToSpeech):
    """Deterministic audio in four chunks; after the second it blocks until ``gate`` is set,
    so a test decides when a synthesis ends (and can kill its process in the middle)."""

    def __init__(self, *, gate: Any = None, sample_rate: int = 16_000, name: str = "gated") -> None:
        info = ModelInfo(role="tts", name=name, path="-", provider="tests", size_bytes=0)
        super().__init__(info, timeout_s=GATE_TIMEOUT_S + 10)
        self.sample_rate = sample_rate
        self.gate = gate
        self.calls = 0

    def _synthesize_impl(self, text: str, stop: threading.Event) -> Iterator[bytes]:
        self.calls += 1
        pcm = expected_pcm(text)
        step = len(pcm) // 4
        # Two chunks before the gate: the stream holds one back to mark the last one final, so the
        # first reaches the caller while the synthesis is still blocked.
        yield pcm[:step]
        yield pcm[step : 2 * step]
        if self.gate is not None:
            self.gate.wait(GATE_TIMEOUT_S)
        for i in range(2 * step, len(pcm), step):
            if stop.is_set():
                return
            yield pcm[i : i + step]


@dataclass(frozen=True)
class WorkerSpec:
    redis_url: str
    prefix: str
    texts: tuple[str, ...]
    requests: int = 1
    """Concurrent requests per text in this process."""
    lock_ttl_ms: int = 3000
    tts: Literal["gated", "piper"] = "gated"
    data_dir: str | None = None
    """For the piper voice: where the registry assembles model files."""
    hit_probes: int = 0
    """After the texts, this many sequential reads of the first text (each a fresh flight)."""


def worker(spec: WorkerSpec, out: Connection, gate: Any = None, barrier: Any = None) -> None:
    """Process entry point. ``gate``: see :class:`GatedTTS`; ``barrier``: waited on before each text
    (every process starts a round together)."""
    asyncio.run(_main(spec, out, gate, barrier))


def _load_tts(spec: WorkerSpec, gate: Any) -> TextToSpeech:
    if spec.tts == "gated":
        return GatedTTS(gate=gate)
    from pathlib import Path

    from agent.models.registry import ModelPaths, load_tts

    return load_tts(ModelPaths(data_dir=Path(spec.data_dir or ".")))


async def _main(spec: WorkerSpec, out: Connection, gate: Any, barrier: Any) -> None:
    from redis.asyncio import Redis

    pid = os.getpid()
    redis = Redis.from_url(spec.redis_url)

    def observer(event: str, key: str) -> None:
        out.send(("event", pid, event, key, time.monotonic()))

    cache = SharedSpeechCache(
        redis, options=CacheOptions(prefix=spec.prefix, lock_ttl_ms=spec.lock_ttl_ms), observer=observer
    )
    tts = await asyncio.to_thread(_load_tts, spec, gate)
    library = SpeechLibrary(tts, cache)
    out.send(("ready", pid))

    async def one(text: str) -> tuple[str, float, float]:
        started = time.monotonic()
        first: float | None = None
        parts: list[bytes] = []
        async for chunk in library.stream(text):
            if first is None:
                first = time.monotonic()
            parts.append(chunk.pcm)
        done = time.monotonic()
        return hashlib.sha256(b"".join(parts)).hexdigest(), (first or done) - started, done

    try:
        for text in spec.texts:
            if barrier is not None:
                await asyncio.to_thread(barrier.wait)
            results = await asyncio.gather(*(one(text) for _ in range(spec.requests)))
            out.send(("result", pid, text, results, library.synthesized))
        probes = [await one(spec.texts[0]) for _ in range(spec.hit_probes)]
        if probes:
            out.send(("probes", pid, probes))
    finally:
        await cache.aclose()
        await redis.aclose()
        tts.close()
        out.send(("exit", pid))
        out.close()


class Inbox:
    """Everything the worker processes reported, read from their pipes as it arrives."""

    def __init__(self) -> None:
        self._pipes: list[Connection] = []
        self.seen: list[tuple[Any, ...]] = []

    def start(self, spec: WorkerSpec, gate: Any = None, barrier: Any = None) -> BaseProcess:
        reader, writer = CTX.Pipe(duplex=False)
        proc = CTX.Process(target=worker, args=(spec, writer, gate, barrier), daemon=True)
        proc.start()
        writer.close()  # the child's copy is the only writer left: its death reads as EOF here
        self._pipes.append(reader)
        return proc

    def until(self, done: Callable[[Inbox], bool], what: str, timeout_s: float = REPORT_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not done(self):
            if not self._pipes or time.monotonic() > deadline:
                raise AssertionError(f"no report of {what} within {timeout_s} s")
            for pipe in wait(self._pipes, timeout=max(0.0, deadline - time.monotonic())):
                assert isinstance(pipe, Connection)
                try:
                    self.seen.append(pipe.recv())
                except (EOFError, OSError, pickle.UnpicklingError):
                    self._pipes.remove(pipe)  # exited, or killed mid-message
                    pipe.close()

    def events(self, pid: int | None = None, name: str | None = None) -> list[tuple[Any, ...]]:
        return [
            m
            for m in self.seen
            if m[0] == "event" and (pid is None or m[1] == pid) and (name is None or m[2] == name)
        ]

    def results(self, pid: int | None = None) -> list[tuple[Any, ...]]:
        return [m for m in self.seen if m[0] == "result" and (pid is None or m[1] == pid)]
