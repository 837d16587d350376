"""The acknowledgement: played the moment the candidate stops, dropped the moment they go on."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from agent.session.ack import Acknowledger
from agent.session.audio_io import SinkEvents
from agent.session.cues import looks_unfinished
from agent.session.runner import SessionModels, SessionOptions, run_interview
from agent.session.state import InterviewPlan, MemoryStateStore
from agent.session.turns import TurnRecord
from tests.fakes import FakeAudioSink, FakeSTT, FakeTTS, FakeVAD, paced_source, tone

ANSWER = "I built the billing service myself and cut its costs by 30 percent within three months."


def test_drop_clears_only_a_lone_acknowledgement() -> None:
    sink = FakeAudioSink()
    busy = False
    ack = Acknowledger(sink, SinkEvents(sink), [tone(0.2, 48_000)], reply_busy=lambda: busy)
    ack.play()
    assert ack.active
    sink.send(2)
    assert ack.drop()
    assert sink.clears == ["ack-0"]
    segment, played_s, interrupted = sink.finished[-1]
    assert (segment, interrupted) == ("ack-0", True)
    assert played_s == pytest.approx(0.04)
    assert not ack.active
    assert not ack.drop()  # nothing left to drop

    ack.play()
    busy = True  # a reply is queued behind it: barge-in is livekit's to handle
    assert not ack.drop()
    assert len(sink.clears) == 1
    sink.send(20)
    assert not ack.active
    assert ack.played == 2
    assert ack.dropped == 1


@pytest.mark.parametrize(
    ("text", "language", "unfinished"),
    [
        ("I worked on the billing service and", "en", True),
        ("I worked on the billing service, um", "en", True),
        ("I worked on the billing service.", "en", False),
        ("결제 서비스를 맡았고 그래서", "ko", True),
        ("결제 서비스를 맡았습니다.", "ko", False),
        # A pause after a comma is a breath inside a sentence (the JFK fixture pauses 1 s there).
        ("And so, my fellow Americans,", "en", True),
        ("And so, my fellow Americans, ask not", "en", True),
        ("Ask what you can do for your country.", "en", False),
        ("What did I learn? Mostly patience.", "en", False),
        ("결제 서비스를 맡았는데", "ko", True),
        ("팀을 이끌면서,", "ko", True),
        ("그 경험으로 많이 배웠습니다", "ko", False),
        ("", "en", False),
    ],
)
def test_looks_unfinished(text: str, language: str, unfinished: bool) -> None:
    assert looks_unfinished(text, language) is unfinished


async def test_acknowledgement_dropped_when_the_candidate_goes_on() -> None:
    # A long acknowledgement and a slow STT: when the candidate resumes after a short pause, only
    # the acknowledgement is in the track, and it must stop at once.
    sink = FakeAudioSink(autoplay=True)
    tts = FakeTTS(seconds_per_char=0.08, max_seconds=1.5)
    loud = (np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000) * 6000).astype(np.int16)
    turns: list[TurnRecord] = []
    replied = asyncio.Event()

    def on_turn(record: TurnRecord) -> None:
        turns.append(record)
        if record.kind == "next":
            replied.set()

    plan = InterviewPlan.of("en", ["Tell me about your last project?", "How did you test it?"])
    try:
        outcome = await asyncio.wait_for(
            run_interview(
                audio_in=paced_source(
                    [("silence", 2.5), loud, ("silence", 0.45), loud], until=replied, max_tail_s=6.0
                ),
                sink=sink,
                plan=plan,
                models=SessionModels(stt=FakeSTT(ANSWER, delay_s=0.5), tts=tts, vad=FakeVAD()),
                state_store=MemoryStateStore(),
                on_turn=on_turn,
                options=SessionOptions(decision_llm=False, close_transcript_timeout_s=0.3),
            ),
            60,
        )
    finally:
        await sink.aclose()
    assert outcome.reason == "input_ended"
    acks = [entry for entry in sink.finished if entry[0].startswith("ack-")]
    assert acks[0][0] == "ack-0"
    assert acks[0][2] is True  # cut when the candidate went on
    assert acks[0][1] < 0.3
    assert sink.clears[0] == "ack-0"
    assert acks[1][2] is False  # the next pause earned a full one
    answer_turns = [t for t in turns if t.speaker == "candidate"]
    assert len(answer_turns) == 1  # one answer across the pause
    assert answer_turns[0].text == f"{ANSWER} {ANSWER}"
    reply = next(t for t in turns if t.kind == "next")
    assert reply.latencies["first_audio_s"] < reply.latencies["next_question_s"]
