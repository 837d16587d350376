"""Pre-synthesized speech, the interview state's transitions and the turn timer."""

from __future__ import annotations

import asyncio

import pytest

from agent.plan.stages import Stage
from agent.session import script
from agent.session.speech import CachedSpeech, MemorySpeechCache, SpeechLibrary
from agent.session.state import InterviewPlan, InterviewState
from agent.session.turns import TurnTimer
from agent.tts_cache import VoiceSpec, utterance_key
from tests.fakes import FakeTTS


async def test_single_flight_and_cache() -> None:
    tts = FakeTTS(delay_s=0.1)
    library = SpeechLibrary(tts, MemorySpeechCache())
    first, second = await asyncio.gather(library.get("Hello there."), library.get("Hello  there."))
    assert first == second
    assert tts.texts == ["Hello there."]
    assert library.synthesized == 1
    again = await library.get("Hello there.")
    assert again == first
    assert library.synthesized == 1
    tts.close()


async def test_prefetch_then_lookup_waits_for_the_synthesis() -> None:
    tts = FakeTTS(delay_s=0.2)
    library = SpeechLibrary(tts, MemorySpeechCache())
    assert await library.lookup("Next question.") is None  # never synthesizes by itself
    library.prefetch("Next question.")
    assert await library.lookup("Next question.") is None  # not waiting: not there yet
    audio = await library.lookup("Next question.", wait_s=5)
    assert audio is not None
    assert audio.duration_s == pytest.approx(tts.duration("Next question."), abs=0.01)
    assert tts.texts == ["Next question."]
    await library.aclose()
    tts.close()


async def test_failed_prefetch_is_not_fatal() -> None:
    tts = FakeTTS(fail_with=RuntimeError("voice broken"))
    library = SpeechLibrary(tts, MemorySpeechCache())
    library.prefetch("Hello.")
    assert await library.lookup("Hello.", wait_s=2) is None
    await library.aclose()
    tts.close()


async def test_memory_cache_is_bounded() -> None:
    cache = MemorySpeechCache(max_entries=2)
    for key in "abc":
        await cache.put(key, CachedSpeech(b"\0\0", 16_000))
    assert len(cache) == 2
    assert await cache.get("a") is None
    assert await cache.get("c") is not None


def test_key_depends_on_words_and_voice_only() -> None:
    joe = VoiceSpec("PiperTTS", "joe", "", 22_050)
    ko = VoiceSpec("EspeakTTS", "espeak-ng", "ko", 22_050)
    assert utterance_key("Hello  there.", joe) == utterance_key("Hello there.", joe)
    assert utterance_key("Hello there.", joe) != utterance_key("Hello there.", ko)


def test_state_transitions() -> None:
    plan = InterviewPlan.of("en", ["Q one?", "Q two?"], stages=[Stage.INTRO, Stage.TECHNICAL])
    state = InterviewState().started()
    assert state.status == "live"
    assert state.stage(plan) == "intro"
    state = state.after("follow_up")
    assert (state.question_index, state.followup_used) == (0, True)
    state = state.after("next")
    assert (state.question_index, state.followup_used, state.stage(plan)) == (1, False, "technical")
    state = state.after("close")
    assert state.status == "ended"
    assert state.stage(plan) == "ended"
    with pytest.raises(ValueError, match="numbered"):
        InterviewPlan("en", (plan.questions[1],))


def test_opening_lines() -> None:
    plan = InterviewPlan.of("ko", ["첫 질문입니다?", "두 번째 질문입니다?"])
    assert script.opening(plan, InterviewState()).endswith("첫 질문입니다?")
    resumed = script.opening(plan, InterviewState(question_index=1, status="live"))
    assert resumed.startswith("다시 오신 것을 환영합니다.")
    assert resumed.endswith("두 번째 질문입니다?")
    assert script.acknowledgement("ko", 1) == "네, 알겠습니다."


def test_turn_timer() -> None:
    clock = [100.0]
    timer = TurnTimer(snap=lambda t: t - 0.01, clock=lambda: clock[0])
    timer.audio_started(100.5, reply=True)  # the greeting: no end of speech to measure from
    assert timer.take(question=True) == {}
    timer.user_started(101.0)
    assert timer.user_stopped(103.0) == pytest.approx(102.99)
    timer.audio_started(103.3, reply=False)  # the acknowledgement
    timer.audio_started(104.0, reply=True)
    assert timer.take(question=True) == {
        "first_audio_s": pytest.approx(0.31),
        "next_question_s": pytest.approx(1.01),
    }
    # A pause, an acknowledgement, then more speech: only audio after the last end counts.
    timer.user_stopped(110.0)
    timer.audio_started(110.3, reply=False)
    timer.user_stopped(112.0)
    timer.audio_started(112.8, reply=True)
    assert timer.take(question=False) == {"first_audio_s": pytest.approx(0.81)}
    assert timer.since_origin(101.25) == 1.25
