"""The cross-process TTS cache against a real Redis server, with real OS processes.

Every wait here is on a report (a queue message or an observer event), never on a sleep: the gated
fake voice blocks mid-synthesis until the test opens its gate, so "the holder is still working"
is a fact the test controls.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import threading
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from agent.session.speech import SpeechLibrary
from agent.tts_cache import CacheOptions, SharedSpeechCache
from agent.tts_cache.keys import RedisKeys
from agent.tts_cache.lock import RedisLock
from db.embedded import EmbeddedRedis
from tests.tts_cache_procs import CTX, GatedTTS, Inbox, WorkerSpec, expected_pcm

pytestmark = pytest.mark.integration

REPORT_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("tts-redis"))
    yield server.start()
    server.stop()


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def _digest(text: str) -> str:
    return hashlib.sha256(expected_pcm(text)).hexdigest()


def _stop(procs: list[BaseProcess]) -> None:
    for proc in procs:
        proc.join(REPORT_TIMEOUT_S)
        if proc.is_alive():
            proc.kill()
            proc.join()


def _keys(url: str, pattern: str) -> list[bytes]:
    with sync_redis.Redis.from_url(url) as r:
        return list(r.scan_iter(match=pattern))


def test_many_processes_one_synthesis(redis_url: str) -> None:
    """4 processes x 25 concurrent requests race for one utterance: one synthesis, identical bytes."""
    prefix, text = _prefix(), "Tell me about the last system you designed."
    gate, inbox = CTX.Event(), Inbox()
    spec = WorkerSpec(redis_url, prefix, (text,), requests=25)
    procs = [inbox.start(spec, gate) for _ in range(4)]
    try:
        pids = {p.pid for p in procs}
        # Every process is in the race before anyone may finish: one holds the lock, three wait.
        inbox.until(
            lambda i: {m[1] for m in i.events() if m[2] in ("synthesize", "wait")} == pids,
            "all four processes engaged",
        )
        assert len(inbox.events(name="synthesize")) == 1
        gate.set()
        inbox.until(lambda i: len(i.results()) == 4, "four results")
    finally:
        gate.set()
        _stop(procs)
    digests = [r[0] for m in inbox.results() for r in m[3]]
    assert len(digests) == 100
    assert set(digests) == {_digest(text)}
    assert sum(m[4] for m in inbox.results()) == 1
    assert len(inbox.events(name="synthesize")) == 1
    assert len(_keys(redis_url, f"{prefix}:audio:*")) == 1
    assert _keys(redis_url, f"{prefix}:lock:*") == []
    assert all(p.exitcode == 0 for p in procs)


def test_holder_killed_mid_synthesis_is_taken_over(redis_url: str) -> None:
    prefix, text = _prefix(), "Why did you choose that architecture?"
    inbox = Inbox()
    # The holder blocks mid-synthesis until it is killed. Never set: waking an Event's sleepers
    # waits for each of them, and a killed sleeper never answers.
    never = CTX.Event()
    spec = WorkerSpec(redis_url, prefix, (text,), lock_ttl_ms=300)
    holder = inbox.start(spec, never)
    waiter: BaseProcess | None = None
    try:
        inbox.until(lambda i: bool(i.events(holder.pid, "synthesize")), "the holder synthesizing")
        waiter = inbox.start(spec)
        wpid = waiter.pid
        inbox.until(lambda i: bool(i.events(wpid, "wait")), "the second process waiting")
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
        inbox.until(lambda i: bool(i.results(wpid)), "the waiter's result")
    finally:
        _stop([p for p in (holder, waiter) if p is not None])
    (result,) = inbox.results(wpid)
    assert [r[0] for r in result[3]] == [_digest(text)]
    assert result[4] == 1  # the waiter synthesized it; the killed holder's attempt was the only other
    assert len(inbox.events(wpid, "takeover")) == 1
    assert len(inbox.events(name="synthesize")) == 2
    assert holder.exitcode == -signal.SIGKILL
    assert len(_keys(redis_url, f"{prefix}:audio:*")) == 1
    assert _keys(redis_url, f"{prefix}:lock:*") == []


def test_lock_is_extended_through_a_synthesis_longer_than_its_ttl(redis_url: str) -> None:
    prefix, text = _prefix(), "How did you measure the result?"
    gate, inbox = CTX.Event(), Inbox()
    spec = WorkerSpec(redis_url, prefix, (text,), lock_ttl_ms=150)
    holder = inbox.start(spec, gate)
    waiter: BaseProcess | None = None
    try:
        inbox.until(lambda i: bool(i.events(holder.pid, "synthesize")), "the holder synthesizing")
        waiter = inbox.start(spec, gate)
        wpid = waiter.pid
        inbox.until(lambda i: bool(i.events(wpid, "wait")), "the second process waiting")
        waiting_since = len(inbox.seen)
        # Six extensions after the waiter arrived: the synthesis has outlived the TTL twice over.
        inbox.until(
            lambda i: [m[:3] for m in i.seen[waiting_since:]].count(("event", holder.pid, "extended")) >= 6,
            "six lock extensions",
        )
        assert _keys(redis_url, f"{prefix}:lock:*") != []
        gate.set()
        inbox.until(lambda i: len(i.results()) == 2, "both results")
    finally:
        gate.set()
        _stop([p for p in (holder, waiter) if p is not None])
    assert {r[0] for m in inbox.results() for r in m[3]} == {_digest(text)}
    assert [m[4] for m in inbox.results(holder.pid)] == [1]
    assert [m[4] for m in inbox.results(wpid)] == [0]
    assert inbox.events(name="takeover") == []
    assert len(inbox.events(name="synthesize")) == 1


async def test_release_and_extend_never_touch_another_holders_lock(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    name = f"{_prefix()}:lock:{'a' * 64}"
    first = RedisLock(redis, name, 10_000)
    second = RedisLock(redis, name, 10_000)
    try:
        assert await first.acquire()
        assert not await second.acquire()  # one SET NX: the second attempt loses
        await redis.delete(name)  # the first holder stalled past its TTL
        assert await second.acquire()
        assert not await first.extend()
        assert not await first.release()
        assert await redis.get(name) == second.token.encode()
        assert await second.release()
        assert await redis.exists(name) == 0
    finally:
        await redis.aclose()


async def _until(events: asyncio.Queue[tuple[str, str]], wanted: tuple[str, str]) -> None:
    async with asyncio.timeout(REPORT_TIMEOUT_S):
        while await events.get() != wanted:
            pass


def _observer(events: asyncio.Queue[tuple[str, str]], who: str) -> Callable[[str, str], None]:
    return lambda event, key: events.put_nowait((who, event))


async def test_holder_finishing_after_its_lock_expired_leaves_the_successors_lock(redis_url: str) -> None:
    prefix, text = _prefix(), "What would you do differently?"
    events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    redis = Redis.from_url(redis_url)
    gate_a, gate_b = threading.Event(), threading.Event()
    options = CacheOptions(prefix=prefix, lock_ttl_ms=60_000)
    cache_a = SharedSpeechCache(redis, options=options, observer=_observer(events, "a"))
    cache_b = SharedSpeechCache(redis, options=options, observer=_observer(events, "b"))
    lib_a = SpeechLibrary(GatedTTS(gate=gate_a), cache_a)
    lib_b = SpeechLibrary(GatedTTS(gate=gate_b), cache_b)
    lock = RedisKeys(prefix).lock(lib_a.key(text))
    try:
        task_a = asyncio.create_task(lib_a.get(text))
        await _until(events, ("a", "synthesize"))
        await redis.delete(lock)  # A stalled past its TTL
        task_b = asyncio.create_task(lib_b.get(text))
        await _until(events, ("b", "synthesize"))
        gate_a.set()
        assert (await task_a).pcm == expected_pcm(text)
        await _until(events, ("a", "not_ours"))
        assert await redis.exists(lock) == 1  # A's compare-and-delete refused: the lock is B's
        gate_b.set()
        assert (await task_b).pcm == expected_pcm(text)
        await _until(events, ("b", "released"))
        assert await redis.exists(lock) == 0
    finally:
        gate_a.set()
        gate_b.set()
        await cache_a.aclose()
        await cache_b.aclose()
        await redis.aclose()


async def _collect(chunks: AsyncIterator[Any]) -> bytes:
    return b"".join([c.pcm async for c in chunks])


def _fallbacks() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "interviewer_tts_cache_fallbacks":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


async def test_redis_dying_mid_request_falls_back_without_raising(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = server.start()
    text = "Could you give a concrete example of that?"
    events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    r_a = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    r_b = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    options = CacheOptions(prefix="down", lock_ttl_ms=500, retry_after_s=60)
    cache_a = SharedSpeechCache(r_a, options=options, observer=_observer(events, "a"))
    cache_b = SharedSpeechCache(r_b, options=options, observer=_observer(events, "b"))
    gate = threading.Event()
    lib_a, lib_b = SpeechLibrary(GatedTTS(gate=gate), cache_a), SpeechLibrary(GatedTTS(), cache_b)
    before = _fallbacks()
    try:
        task_a = asyncio.create_task(_collect(lib_a.stream(text)))
        await _until(events, ("a", "synthesize"))
        task_b = asyncio.create_task(_collect(lib_b.stream(text)))
        await _until(events, ("b", "wait"))
        server.stop()
        # B's completion channel broke: it synthesizes for itself rather than wait on a dead server.
        assert await task_b == expected_pcm(text)
        gate.set()
        assert await task_a == expected_pcm(text)  # A's store failed; its caller never noticed
        assert (lib_a.synthesized, lib_b.synthesized) == (1, 1)
        assert _fallbacks() >= before + 2
        # Still down: served from this process's memory, without a synthesis or a connect attempt.
        again = await lib_a.get(text)
        assert again.pcm == expected_pcm(text)
        assert lib_a.synthesized == 1
    finally:
        gate.set()
        server.stop()
        await cache_a.aclose()
        await cache_b.aclose()
        await r_a.aclose()
        await r_b.aclose()


async def test_same_words_are_one_entry_and_another_voice_is_another(redis_url: str) -> None:
    prefix = _prefix()
    redis = Redis.from_url(redis_url)
    cache = SharedSpeechCache(redis, options=CacheOptions(prefix=prefix))
    library = SpeechLibrary(GatedTTS(), cache)
    korean = "자기소개를 간단히 해 주세요."
    try:
        await library.get("Tell me about  your\nlast project.")
        await library.get("  Tell me about your last project. ")
        await library.get(korean)
        await library.get(" " + unicodedata.normalize("NFD", korean).replace(" ", "  \t"))
        assert library.synthesized == 2
        other_voice = SpeechLibrary(GatedTTS(name="another-voice"), cache)
        other_rate = SpeechLibrary(GatedTTS(sample_rate=22_050), cache)
        await other_voice.get("Tell me about your last project.")
        await other_rate.get("Tell me about your last project.")
        assert (other_voice.synthesized, other_rate.synthesized) == (1, 1)
        assert len(_keys(redis_url, f"{prefix}:audio:*")) == 4
        stored = await redis.hgetall(RedisKeys(prefix).audio(library.key(korean)))
        assert stored[b"format"] == b"s16le"
        assert int(stored[b"rate"]) == 16_000
        assert int(stored[b"duration_ms"]) == round(len(expected_pcm(korean)) / 2 / 16_000 * 1000)
        ttl = await redis.ttl(RedisKeys(prefix).audio(library.key(korean)))
        assert 0 < ttl <= CacheOptions().ttl_s
    finally:
        await cache.aclose()
        await redis.aclose()


async def test_audio_over_the_size_cap_is_played_but_not_stored(redis_url: str) -> None:
    prefix = _prefix()
    redis = Redis.from_url(redis_url)
    events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    options = CacheOptions(prefix=prefix, max_entry_bytes=100)
    cache = SharedSpeechCache(redis, options=options, observer=_observer(events, "a"))
    library = SpeechLibrary(GatedTTS(), cache)
    try:
        audio = await library.get("A long answer.")
        assert audio.pcm == expected_pcm("A long answer.")
        await _until(events, ("a", "released"))
        assert _keys(redis_url, f"{prefix}:audio:*") == []
        assert _keys(redis_url, f"{prefix}:lock:*") == []
    finally:
        await cache.aclose()
        await redis.aclose()
