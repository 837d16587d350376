"""The TTS cache without a Redis server: keys, the in-process flight, the fallback when Redis cannot
be reached, and pre-synthesis of a plan. (Redis and real processes: tests/integration.)"""

from __future__ import annotations

import asyncio
import threading
import unicodedata
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from agent.models.base import AudioChunk
from agent.models.tts import MultiLanguageTTS
from agent.plan.stages import Stage
from agent.session import script
from agent.session.presynth import Presynthesizer, planned_utterances
from agent.session.speech import SpeechLibrary
from agent.session.state import InterviewPlan, InterviewState
from agent.tts_cache import (
    CachedSpeech,
    CacheOptions,
    SharedSpeechCache,
    VoiceSpec,
    utterance_key,
    voice_spec,
)
from agent.tts_cache.flight import Flight, LocalFlights
from agent.tts_cache.keys import RedisKeys, check_key
from tests.fakes import FakeTTS
from tests.tts_cache_procs import GatedTTS, expected_pcm

VOICE = VoiceSpec("PiperTTS", "joe-us/en_US-joe-medium/63201294", "", 22_050)


def test_key_ignores_spacing_and_unicode_form_but_not_the_voice() -> None:
    assert utterance_key("Tell me  about\tyour\nproject. ", VOICE) == utterance_key(
        "Tell me about your project.", VOICE
    )
    korean = "자기소개를 간단히 해 주세요."
    decomposed = unicodedata.normalize("NFD", korean)
    assert decomposed != korean
    assert utterance_key(f"  {decomposed}", VOICE) == utterance_key(korean, VOICE)
    assert utterance_key(korean, VOICE) != utterance_key("자기소개를 간단히 해주세요.", VOICE)
    others = [
        VoiceSpec("EspeakTTS", VOICE.model, "", 22_050),
        VoiceSpec("PiperTTS", "joe-us/en_US-joe-medium/1", "", 22_050),
        VoiceSpec("PiperTTS", VOICE.model, "ko", 22_050),
        VoiceSpec("PiperTTS", VOICE.model, "", 16_000),
        VoiceSpec("PiperTTS", VOICE.model, "", 22_050, format="f32le"),
    ]
    keys = {utterance_key("Hello.", spec) for spec in [VOICE, *others]}
    assert len(keys) == 6
    # Fields are length-prefixed: moving a boundary between two fields changes the key.
    assert utterance_key("a", VoiceSpec("b", "c", "", 1)) != utterance_key("a", VoiceSpec("bc", "x", "", 1))


def test_keys_are_checked_before_they_name_anything() -> None:
    key = utterance_key("Hello.", VOICE)
    assert check_key(key) == key
    names = RedisKeys("tts")
    assert names.audio(key) == f"tts:audio:{key}"
    assert names.key_of_channel(names.done(key)) == key
    assert names.key_of_channel("tts:done:../../etc/passwd") is None
    for bad in ("../../etc/passwd", key.upper(), key[:-1], f"{key}\n", f"{key}:x", ""):
        with pytest.raises(ValueError, match="utterance key"):
            names.audio(bad)
    with pytest.raises(ValueError, match="prefix"):
        RedisKeys("tts:*")
    with pytest.raises(ValueError, match="prefix"):
        CacheOptions(prefix="a b")
    with pytest.raises(ValueError, match="lock_ttl_ms"):
        CacheOptions(lock_ttl_ms=5)


def test_a_language_router_keys_each_sentence_by_the_voice_that_speaks_it() -> None:
    english, korean = FakeTTS(sample_rate=22_050), FakeTTS(sample_rate=16_000)
    router = MultiLanguageTTS({"en": english, "ko": korean})
    try:
        assert voice_spec(router, "Thank you.") == voice_spec(english, "Thank you.")
        assert voice_spec(router, "감사합니다.").sample_rate == 16_000
        library = SpeechLibrary(router, SharedSpeechCache(None))
        assert library.key("감사합니다.") == utterance_key("감사합니다.", voice_spec(korean, "감사합니다."))
    finally:
        router.close()


async def test_a_miss_streams_chunks_before_the_synthesis_ends_and_readers_share_it() -> None:
    gate = threading.Event()
    tts = GatedTTS(gate=gate)
    library = SpeechLibrary(tts, SharedSpeechCache(None))
    first = library.stream("Hello there.")
    chunk = await anext(first)  # the gate is closed: only the first chunk exists yet
    assert chunk.pcm == expected_pcm("Hello there.")[: len(chunk.pcm)]
    second = asyncio.create_task(library.get("Hello   there."))
    gate.set()
    rest = b"".join([c.pcm async for c in first])
    assert chunk.pcm + rest == expected_pcm("Hello there.")
    assert (await second).pcm == expected_pcm("Hello there.")
    assert (library.synthesized, tts.calls) == (1, 1)
    hit = [c async for c in library.stream("Hello there.")]
    assert len(hit) == 1
    assert hit[0].final
    assert library.synthesized == 1
    await library.aclose()
    tts.close()


async def test_a_reader_going_away_does_not_stop_the_synthesis_others_need() -> None:
    flights = LocalFlights()
    release = asyncio.Event()

    async def produce(flight: Flight) -> None:
        flight.push(AudioChunk(b"\1\0", 16_000))
        await release.wait()
        flight.push(AudioChunk(b"\2\0", 16_000, final=True))
        flight.finish(CachedSpeech(b"\1\0\2\0", 16_000))

    flight = flights.start("k", produce)
    reader = flight.follow()
    assert (await anext(reader)).pcm == b"\1\0"
    await reader.aclose()  # type: ignore[attr-defined]  # a barge-in drops this reader
    assert flights.start("k", produce) is flight  # joined, not restarted
    release.set()
    assert (await flight.result()).pcm == b"\1\0\2\0"
    assert [c.pcm for c in flight.chunks] == [b"\1\0", b"\2\0"]
    await flights.aclose()
    assert len(flights) == 0


def _fallbacks(stage: str) -> float:
    value = REGISTRY.get_sample_value("interviewer_tts_cache_fallbacks_total", {"stage": stage})
    return value or 0.0


async def test_unreachable_redis_falls_back_to_in_process_single_flight(tmp_path: Path) -> None:
    dead = Redis.from_url(f"unix://{tmp_path}/nothing.sock", socket_connect_timeout=0.5)
    observed: list[str] = []
    cache = SharedSpeechCache(dead, observer=lambda event, key: observed.append(event))
    tts = FakeTTS(delay_s=0.05)
    library = SpeechLibrary(tts, cache)
    failed_before, skipped_before = _fallbacks("request"), _fallbacks("unavailable")
    results = await asyncio.gather(*(library.get("Next question.") for _ in range(10)))
    assert len({r.pcm for r in results}) == 1
    assert tts.texts == ["Next question."]
    assert _fallbacks("request") == failed_before + 1
    # Redis is left alone for a while: the next line goes straight to memory, no connect attempt.
    again = await library.get("Next question.")
    assert again == results[0]
    assert _fallbacks("unavailable") == skipped_before + 1
    assert observed.count("synthesize") == 1
    assert library.synthesized == 1
    await cache.aclose()
    await dead.aclose()
    tts.close()


async def test_a_failed_synthesis_reaches_its_readers_and_is_not_cached() -> None:
    tts = FakeTTS(fail_with=RuntimeError("voice broken"))
    library = SpeechLibrary(tts, SharedSpeechCache(None))
    with pytest.raises(Exception, match="voice broken"):
        await library.get("Hello.")
    tts.fail_with = None
    assert (await library.get("Hello.")).duration_s > 0
    assert library.synthesized == 2
    tts.close()


def _plan(language: str, questions: list[str]) -> InterviewPlan:
    stages = [Stage.INTRO, Stage.EXPERIENCE, Stage.TECHNICAL][: len(questions)]
    return InterviewPlan.of(language, questions, stages=stages)  # type: ignore[arg-type]


def test_planned_utterances_start_with_what_the_candidate_hears_first() -> None:
    plan = _plan("ko", ["첫 질문입니다?", "두 번째 질문입니다?", "세 번째 질문입니다?"])
    texts = planned_utterances(plan)
    assert texts[0] == script.opening(plan, InterviewState())
    assert texts[0].endswith("첫 질문입니다?")
    for question in plan.questions[1:]:
        assert script.next_question(question, "ko") in texts
    assert set(script.ACKNOWLEDGEMENTS["ko"]) <= set(texts)
    assert script.closing("ko") in texts
    assert len(texts) == len(set(texts))


async def test_presynthesis_caches_every_planned_line_once() -> None:
    tts = FakeTTS()
    cache = SharedSpeechCache(None)
    presynth = Presynthesizer(lambda: tts, cache)
    plan = _plan("en", ["What did you build?", "How did you test it?"])
    queued = presynth.submit(plan)
    presynth.submit(plan)  # the same plan twice: every line is already there the second time
    await presynth.join()
    texts = planned_utterances(plan)
    assert queued == len(texts)
    assert presynth.completed == 2 * len(texts)
    assert sorted(tts.texts) == sorted(texts)
    live = SpeechLibrary(tts, cache)
    opening = await live.lookup(script.opening(plan, InterviewState()))
    assert opening is not None
    assert live.synthesized == 0
    await presynth.aclose()
    await cache.aclose()
    tts.close()
