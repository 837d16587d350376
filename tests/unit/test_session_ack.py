"""The acknowledgement: played once the answer is over and the reply is not ready, dropped the moment
the candidate goes on."""

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
from tests.fakes import FakeAudioSink, FakeLLM, FakeSTT, FakeTTS, FakeVAD, paced_source, tone
from tests.unit.test_session_runner import QUICK

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


async def test_acknowledgement_waits_for_the_end_of_the_answer_and_is_dropped_when_it_goes_on() -> None:
    # The LLM's follow-up is not synthesized ahead and the voice is slow: the acknowledgement covers
    # the wait, but only once the turn has ended; when the candidate goes on during it, it stops at
    # once, the follow-up is given back (not asked), and is asked once the answer is really over.
    sink = FakeAudioSink(autoplay=True)
    tts = FakeTTS(seconds_per_char=0.08, max_seconds=1.5, delay_s=0.3)
    llm = FakeLLM({"decision": "follow_up", "follow_up": "Which part of the billing service was hardest?"})
    loud = (np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000) * 6000).astype(np.int16)
    turns: list[TurnRecord] = []
    replied = asyncio.Event()

    def on_turn(record: TurnRecord) -> None:
        turns.append(record)
        if record.kind == "follow_up" and not record.interrupted:
            replied.set()

    plan = InterviewPlan.of("en", ["Tell me about your last project?", "How did you test it?"])
    store = MemoryStateStore()
    try:
        outcome = await asyncio.wait_for(
            run_interview(
                audio_in=paced_source(
                    [("silence", 6.0), loud, ("silence", 0.7), loud], until=replied, max_tail_s=8.0
                ),
                sink=sink,
                plan=plan,
                models=SessionModels(stt=FakeSTT(ANSWER), tts=tts, llm=llm, vad=FakeVAD()),
                state_store=store,
                on_turn=on_turn,
                options=SessionOptions(
                    decision_llm=True, decision_wait_s=2.0, close_transcript_timeout_s=0.3, turn_taking=QUICK
                ),
            ),
            60,
        )
    finally:
        await sink.aclose()
        llm.close()
    assert outcome.reason == "input_ended"
    acks = [entry for entry in sink.finished if entry[0].startswith("ack-")]
    assert acks, sink.finished
    assert acks[0][2] is True  # cut when the candidate went on
    asked = [t for t in turns if t.kind == "follow_up" and not t.interrupted]
    assert len(asked) == 1
    assert all(t.question_index == 0 for t in turns)
    candidate = [t for t in turns if t.speaker == "candidate"]
    assert " ".join(t.text for t in candidate) == f"{ANSWER} {ANSWER}"
    # The follow-up moved the state once, after it was heard in full.
    assert [(s.question_index, s.followup_used) for s in store.saves] == [(0, False), (0, True)]
