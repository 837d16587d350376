"""Whole interviews through a real livekit ``AgentSession`` with fake models: a loudness VAD, a scripted
STT, a tone TTS and a sink paced in real time. Each answer is a tone whose loudness tells the fake STT
which scripted answer it is, so interim and final calls agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from agent.errors import OfflineConfigError
from agent.models.base import Pcm16
from agent.session.runner import (
    CLOUD_ENV,
    InterviewOutcome,
    SessionModels,
    SessionOptions,
    run_interview,
)
from agent.session.state import InterviewPlan, InterviewState, MemoryStateStore
from agent.session.turn_taking import TurnTakingOptions
from agent.session.turns import TurnRecord
from tests.fakes import FakeAudioSink, FakeLLM, FakeSTT, FakeTTS, FakeVAD, paced_source

QUICK = TurnTakingOptions(
    open_silence_s=0.3,
    closed_silence_s=0.3,
    starting_silence_s=0.3,
    short_silence_s=0.3,
    unfinished_silence_s=0.3,
    request_silence_s=0.3,
    silence_prompt_s=60.0,
)
"""Turn-taking that ends each scripted answer after 0.3 s: these tests are about the interview's
structure; the patience itself is tested in test_session_turn_taking.py."""

PLAN = InterviewPlan.of("en", ["Tell me about your last project?", "How did you test it?"])
VAGUE = "It was a big project with a lot of moving parts and many people involved in all of it."
CONCRETE = "I built the billing service myself and cut its costs by 30 percent within three months."
ANSWERS = {1: VAGUE, 2: CONCRETE, 3: CONCRETE}


def answer(level: int, seconds: float = 1.0) -> Pcm16:
    """A tone of loudness ``level`` (1-3), which the fake STT maps to a scripted answer."""
    t = np.arange(round(seconds * 16_000)) / 16_000
    return (np.sin(2 * np.pi * 220 * t) * 3000 * level).astype(np.int16)


def transcribe(audio: Pcm16) -> str:
    level = round(float(np.abs(audio).max(initial=0)) / 3000) if len(audio) else 0
    return ANSWERS.get(level, "")


async def interview(
    script: Sequence[tuple[str, float] | Pcm16],
    *,
    store: MemoryStateStore | None = None,
    options: SessionOptions | None = None,
    llm: FakeLLM | None = None,
    tts: FakeTTS | None = None,
    tail_s: float = 6.0,
) -> tuple[InterviewOutcome, list[TurnRecord], FakeAudioSink, FakeTTS]:
    sink = FakeAudioSink(autoplay=True)
    tts = tts or FakeTTS()
    turns: list[TurnRecord] = []
    done = asyncio.Event()

    async def on_turn(record: TurnRecord) -> None:
        turns.append(record)
        if record.kind == "close":
            done.set()

    source: AsyncIterator[Pcm16] = paced_source(script, until=done, max_tail_s=tail_s)
    try:
        outcome = await asyncio.wait_for(
            run_interview(
                audio_in=source,
                sink=sink,
                plan=PLAN,
                models=SessionModels(stt=FakeSTT(transcribe), tts=tts, llm=llm, vad=FakeVAD()),
                state_store=store or MemoryStateStore(),
                on_turn=on_turn,
                options=options
                or SessionOptions(
                    decision_llm=llm is not None, close_transcript_timeout_s=0.3, turn_taking=QUICK
                ),
            ),
            60,
        )
    finally:
        await sink.aclose()
    return outcome, turns, sink, tts


async def test_full_interview_follow_up_next_close() -> None:
    store = MemoryStateStore()
    outcome, turns, sink, tts = await interview(
        [("silence", 2.0), answer(1), ("silence", 2.0), answer(2), ("silence", 2.0), answer(3)], store=store
    )
    assert outcome.reason == "closed"
    assert outcome.state.status == "ended"
    kinds = [(t.speaker, t.kind) for t in turns]
    assert kinds == [
        ("interviewer", "greeting"),
        ("candidate", "answer"),
        ("interviewer", "follow_up"),
        ("candidate", "answer"),
        ("interviewer", "next"),
        ("candidate", "answer"),
        ("interviewer", "close"),
    ]
    assert turns[1].text == VAGUE
    assert turns[2].text == "Could you give a concrete example of that?"
    assert turns[4].text.endswith(PLAN.questions[1].text)
    assert [t.question_index for t in turns] == [0, 0, 0, 0, 1, 1, 1]
    assert [t.seq for t in turns] == list(range(7))
    for user in turns[1::2]:
        assert {"endpointing_s", "stt_final_s"} <= user.latencies.keys()
        assert user.started_s is not None
        assert user.ended_s is not None
        assert user.started_s < user.ended_s
    for reply in (turns[2], turns[4]):
        assert {"first_audio_s", "next_question_s", "decision_s", "tts_ttfb_s"} <= reply.latencies.keys()
        # Cached replies start at once: no acknowledgement goes before them.
        # Order, not speed (timing goals live in the benchmark); 10 s only guards against a hang.
        assert 0.25 < reply.latencies["first_audio_s"] == reply.latencies["next_question_s"] < 10
        assert reply.latencies["tts_cached"] == 1.0
    assert "next_question_s" not in turns[6].latencies
    # State saved as it moved: live at Q0, follow-up used, Q1, ended.
    assert [(s.question_index, s.followup_used, s.status) for s in store.saves] == [
        (0, False, "live"),
        (0, True, "live"),
        (1, False, "live"),
        (1, False, "ended"),
    ]
    # Every sentence was synthesized once, ahead of need, so no acknowledgement was needed.
    assert len(tts.texts) == len(set(tts.texts))
    assert sum(seg.startswith("ack-") for seg, _ in sink.started) == 0
    assert all(not interrupted for _, _, interrupted in sink.finished)


async def test_resume_at_the_same_question() -> None:
    store = MemoryStateStore()
    first, turns, _, _ = await interview([("silence", 2.0), answer(2)], store=store, tail_s=2.5)
    assert first.reason == "input_ended"
    assert store.state == InterviewState(question_index=1, followup_used=False, status="live")

    second, turns, _, _ = await interview([("silence", 0.5)], store=store, tail_s=0.0)
    assert second.reason == "input_ended"
    greeting = turns[0]
    assert greeting.kind == "resume"
    assert greeting.text.startswith("Welcome back.")
    assert greeting.text.endswith(PLAN.questions[1].text)
    assert greeting.question_index == 1


async def test_ended_interview_does_not_start() -> None:
    store = MemoryStateStore(InterviewState(question_index=1, status="ended"))
    outcome, turns, sink, _ = await interview([("silence", 0.2)], store=store)
    assert outcome.reason == "already_ended"
    assert turns == []
    assert sink.pushes == []


async def test_acknowledgement_is_optional() -> None:
    outcome, turns, sink, _ = await interview(
        [("silence", 2.0), answer(2)],
        options=SessionOptions(
            ack=False, decision_llm=False, close_transcript_timeout_s=0.3, turn_taking=QUICK
        ),
        tail_s=2.5,
    )
    assert outcome.reason == "input_ended"
    assert not any(seg.startswith("ack-") for seg, _ in sink.started)
    reply = turns[2]
    assert reply.kind == "next"
    assert reply.latencies["first_audio_s"] == reply.latencies["next_question_s"]


async def test_llm_follow_up_is_spoken() -> None:
    llm = FakeLLM({"decision": "follow_up", "follow_up": "Which moving parts were the hardest for you?"})
    _, turns, _, tts = await interview([("silence", 2.0), answer(1)], llm=llm, tail_s=2.5)
    llm.close()
    assert turns[2].text == "Which moving parts were the hardest for you?"
    assert turns[2].latencies["tts_cached"] == 0.0
    # Not synthesized ahead: the acknowledgement covered the wait, before the follow-up itself.
    assert turns[2].latencies["first_audio_s"] < turns[2].latencies["next_question_s"]
    assert "Which moving parts were the hardest for you?" in tts.texts


async def test_refuses_to_run_with_cloud_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLOUD_ENV[0], "wss://example.livekit.cloud")
    with pytest.raises(OfflineConfigError, match="LIVEKIT_URL"):
        await interview([("silence", 0.1)])
