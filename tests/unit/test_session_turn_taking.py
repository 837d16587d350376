"""The turn-taking decisions as plain functions, and the recovery from a false end of turn through a
real livekit session with fake models."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from agent.session.runner import SessionModels, SessionOptions, run_interview
from agent.session.state import InterviewPlan, MemoryStateStore
from agent.session.turn_taking import (
    AnswerWindow,
    EndOfTurnPolicy,
    TurnContext,
    TurnTaking,
    TurnTakingOptions,
    is_backchannel,
    question_kind,
    repeat_line,
    request_in,
    silence_prompt,
    stop_at_once,
)
from agent.session.turns import TurnRecord
from tests.fakes import FakeAudioSink, FakeSTT, FakeTTS, FakeVAD, paced_source
from tests.unit.test_session_runner import QUICK

OPTIONS = TurnTakingOptions()
POLICY = EndOfTurnPolicy(OPTIONS)
LONG = (
    "I led the migration of our billing service to Kubernetes last year. We moved twelve services "
    "over three months, and I wrote the rollout plan and the load tests myself. It cut our costs."
)


def wait(
    answer: str, *, question: str = "open", language: str = "en", pause: float = 0.0
) -> tuple[float, str]:
    ctx = TurnContext(language, question, answer, pause)  # type: ignore[arg-type]
    w = POLICY.required_silence(ctx)
    return w.silence_s, w.reason


@pytest.mark.parametrize(
    ("text", "language", "kind"),
    [
        ("Tell me about a project you are proud of.", "en", "open"),
        ("Let's move on. How did you test the billing service?", "en", "open"),
        ("Do you have experience with Kubernetes?", "en", "closed"),
        ("Next question. Did you lead that team?", "en", "closed"),
        ("Could you tell me about a time you disagreed with your manager?", "en", "open"),
        ("How many years have you worked with Python?", "en", "closed"),
        ("가장 어려웠던 프로젝트에 대해 말씀해 주시겠어요?", "ko", "open"),
        ("쿠버네티스를 사용해 본 경험이 있나요?", "ko", "open"),
        ("그 팀을 직접 이끄셨나요", "ko", "open"),
        ("파이썬은 몇 년 동안 사용하셨나요?", "ko", "closed"),
    ],
)
def test_question_kind(text: str, language: str, kind: str) -> None:
    assert question_kind(text, language) == kind


def test_a_pause_early_in_an_open_answer_is_waited_through() -> None:
    # One complete sentence is a start, not an answer: the 1.5 s thinking pause after it is kept.
    silence, reason = wait("We are gathered to review the results for the year 2021.")
    assert silence > 1.5
    assert reason == "getting started"
    # The same sentence answering a yes/no question ends it quickly.
    assert wait("Yes, I have used it for three years.", question="closed")[0] < 1.0


def test_a_pause_after_one_complete_sentence_of_an_open_answer_is_waited_through() -> None:
    # 19 words, complete: the candidate's 1.5 s pause before a second sentence is kept.
    sentence = (
        "After early nightfall the yellow lamps would light up here and there, "
        "the squalid quarter of the brothels."
    )
    silence, reason = wait(sentence)
    assert silence > 1.5
    assert reason == "short answer"
    assert wait("결제 서비스를 쿠버네티스로 옮기는 일을 맡아서 석 달 동안 진행했습니다.", language="ko")[
        1
    ] == ("short answer")
    # A longer answer ends after the open silence; a closed question's short answer sooner still.
    assert wait(LONG)[0] < silence
    assert wait(sentence, question="closed")[0] < 1.0


def test_an_unfinished_sentence_waits_longest() -> None:
    assert wait(LONG + " And then, um")[1] == "unfinished"
    assert wait(LONG + " And then, um")[0] > wait(LONG)[0]
    assert wait("결제 서비스를 맡았는데", language="ko")[1] == "unfinished"


def test_a_substantive_complete_answer_ends_after_the_open_silence() -> None:
    assert wait(LONG) == (OPTIONS.open_silence_s, "complete")


def test_the_candidates_own_rhythm_lengthens_the_wait_up_to_the_cap() -> None:
    silence, reason = wait(LONG, pause=1.5)
    assert silence == pytest.approx(1.5 * OPTIONS.rhythm_factor)
    assert "rhythm" in reason
    assert wait(LONG, pause=10.0)[0] == OPTIONS.rhythm_cap_s


def test_a_request_ends_at_once() -> None:
    assert wait("Could you repeat the question?") == (OPTIONS.request_silence_s, "request")
    assert wait("다시 말씀해 주시겠어요?", language="ko") == (OPTIONS.request_silence_s, "request")
    assert wait("") == (0.0, "no words")


@pytest.mark.parametrize(
    ("text", "language", "wanted"),
    [
        ("Could you repeat the question?", "en", "repeat"),
        ("Sorry, I didn't catch that.", "en", "repeat"),
        ("Can you say that again, please?", "en", "repeat"),
        ("Pardon?", "en", "repeat"),
        ("Can we move on to the next question?", "en", "move_on"),
        ("다시 말씀해 주시겠어요?", "ko", "repeat"),
        ("죄송한데 질문을 다시 한번 말씀해 주세요.", "ko", "repeat"),
        ("잘 못 들었습니다.", "ko", "repeat"),
        ("다음 질문으로 넘어가도 될까요?", "ko", "move_on"),
        ("I repeated the load test every night until it passed.", "en", None),
        (LONG + " Then we moved on to the next question of scale.", "en", None),
        ("결제 서비스를 다시 설계했습니다. 그 결과 비용이 30% 줄었고 장애도 거의 없어졌습니다.", "ko", None),
    ],
)
def test_request_in(text: str, language: str, wanted: str | None) -> None:
    assert request_in(text, language) == wanted


@pytest.mark.parametrize(
    ("text", "language", "backchannel"),
    [
        ("Mm-hmm.", "en", True),
        ("Okay.", "en", True),
        ("Yeah, yeah.", "en", True),
        ("I see.", "en", True),
        ("네.", "ko", True),
        ("음", "ko", True),
        ("네, 알겠습니다.", "ko", True),
        ("Okay, so I led the migration.", "en", False),
        ("네, 제가 직접 설계했습니다.", "ko", False),
    ],
)
def test_is_backchannel(text: str, language: str, backchannel: bool) -> None:
    assert is_backchannel(text, language) is backchannel


def test_stop_at_once_only_soon_after_the_line_began() -> None:
    assert stop_at_once(None, OPTIONS)  # before its audio: the reply is still being prepared
    assert stop_at_once(OPTIONS.resume_window_s - 0.1, OPTIONS)
    assert not stop_at_once(OPTIONS.resume_window_s + 0.1, OPTIONS)


def test_prompts_and_repeats_in_both_languages() -> None:
    assert silence_prompt("en", 0, 2) == "Take your time."
    assert silence_prompt("ko", 0, 2) == "천천히 생각하셔도 됩니다."
    assert "move on" in silence_prompt("en", 1, 2)
    assert "넘어가" in silence_prompt("ko", 1, 2)
    assert repeat_line("How did you test it?", "en") == "Of course. How did you test it?"
    assert repeat_line("어떻게 테스트하셨나요?", "ko").endswith("어떻게 테스트하셨나요?")


def test_answer_window_is_bounded_and_counts_every_word() -> None:
    window = AnswerWindow(max_chars=300)
    sentence = "I kept talking about the migration for a very long time."
    for _ in range(1000):  # a monologue of minutes
        window.add(sentence)
    assert len(window.text) <= 300
    assert window.text.endswith(sentence)
    assert window.words == 1000 * len(sentence.split())
    window.add("x" * 1000)  # one utterance longer than the window keeps its end
    assert len(window.text) <= 300
    window.clear()
    assert (window.text, window.words) == ("", 0)


def test_turn_taking_learns_pauses_and_drops_backchannels_over_the_interviewer() -> None:
    turns = TurnTaking("en")
    turns.asked("Tell me about a project you are proud of.")
    turns.speech_ended(10.0)
    turns.speech_started(11.5)  # went on after 1.5 s: that pause was not the end
    assert turns.longest_continued_pause_s == pytest.approx(1.5)
    turns.interviewer_speaking = True
    assert not turns.heard("Mm-hmm.")
    assert not turns.heard("레이브", voiced_s=0.4)  # one short word over the interviewer
    assert turns.answer.words == 0
    turns.interviewer_speaking = False
    assert turns.heard(LONG)
    assert turns.wait().silence_s == pytest.approx(1.5 * OPTIONS.rhythm_factor)
    turns.asked("Did you lead it?")
    assert turns.question == "closed"
    assert turns.answer.words == 0
    # A pause from an earlier answer counts less with each question asked since.
    assert turns.longest_continued_pause_s == pytest.approx(1.5 * OPTIONS.rhythm_decay)


def test_only_a_pause_near_the_wait_teaches_the_rhythm() -> None:
    turns = TurnTaking("en")
    turns.asked("Tell me about a project you are proud of.")
    assert turns.heard(LONG[:-1].rsplit(" ", 1)[0] + " and")  # ends mid-sentence: a 2.6 s wait
    turns.speech_ended(10.0)
    turns.speech_started(11.2)  # 1.2 s: nowhere near being taken for the end
    assert turns.longest_continued_pause_s == 0.0
    assert turns.heard("then we shipped it.")  # complete now: a 1.0 s wait
    turns.speech_ended(20.0)
    turns.speech_started(20.9)  # 0.9 s of a 1.0 s wait: a near miss
    assert turns.longest_continued_pause_s == pytest.approx(0.9)
    assert turns.wait().silence_s == pytest.approx(max(OPTIONS.open_silence_s, 0.9 * OPTIONS.rhythm_factor))


def test_a_gap_longer_than_any_wait_is_not_a_pause_inside_the_answer() -> None:
    # Seen in the bench: the next question was marked as asked just after the candidate began to
    # answer it, so the whole gap (the wait, the question, 7.5 s) was taken for a pause.
    turns = TurnTaking("en")
    turns.asked("Tell me about yourself.")
    assert turns.heard(LONG)
    turns.speech_ended(5.0)
    turns.speech_started(5.0 + OPTIONS.max_silence_s + 4.5)
    assert turns.longest_continued_pause_s == 0.0


def test_a_long_pause_after_a_short_first_sentence_is_learned() -> None:
    # The first sentence is short (the 2.2 s patience applied), but it looked done: 1.2 s is a
    # near miss for the 1.0 s a finished sentence waits, so this speaker's later sentences wait longer.
    turns = TurnTaking("en")
    turns.asked("Tell me about yourself.")
    assert turns.heard("I apologize for being on Zoom.")
    turns.speech_ended(5.0)
    turns.speech_started(6.2)
    assert turns.longest_continued_pause_s == pytest.approx(1.2)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_silence_s"):
        TurnTakingOptions(unfinished_silence_s=5.0)
    with pytest.raises(ValueError, match="rhythm_factor"):
        TurnTakingOptions(rhythm_factor=0.5)
    with pytest.raises(ValueError, match="rhythm_decay"):
        TurnTakingOptions(rhythm_decay=0.0)


PLAN = InterviewPlan.of("en", ["Tell me about your last project?", "How did you test it?"])
ANSWER = "I built the billing service myself and cut its costs by 30 percent within three months."


async def test_candidate_who_resumes_after_the_interviewer_started_keeps_the_question() -> None:
    # The answer ends (0.3 s of quiet is enough for these options), the next question starts, and
    # the candidate goes on 1 s later: the question stops, is given back, and is asked once more
    # after the whole answer; the plan moves once.
    sink = FakeAudioSink(autoplay=True)
    tts = FakeTTS(seconds_per_char=0.05, max_seconds=2.5)
    loud = (np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000) * 6000).astype(np.int16)
    turns: list[TurnRecord] = []
    asked = asyncio.Event()

    def on_turn(record: TurnRecord) -> None:
        turns.append(record)
        if record.kind == "next" and not record.interrupted:
            asked.set()

    store = MemoryStateStore()
    try:
        outcome = await asyncio.wait_for(
            run_interview(
                audio_in=paced_source(
                    [("silence", 5.0), loud, ("silence", 1.2), loud], until=asked, max_tail_s=8.0
                ),
                sink=sink,
                plan=PLAN,
                models=SessionModels(stt=FakeSTT(ANSWER), tts=tts, vad=FakeVAD()),
                state_store=store,
                on_turn=on_turn,
                options=SessionOptions(follow_ups=False, close_transcript_timeout_s=0.3, turn_taking=QUICK),
            ),
            60,
        )
    finally:
        await sink.aclose()
    assert outcome.reason == "input_ended"
    interviewer = [(t.kind, t.interrupted) for t in turns if t.speaker == "interviewer"]
    assert interviewer == [("greeting", False), ("next", True), ("next", False)]
    # Stopped while it played: a reply segment was cut.
    assert any(seg.startswith("reply-") and cut for seg, _, cut in sink.finished)
    candidate = [t for t in turns if t.speaker == "candidate"]
    assert [t.question_index for t in candidate] == [0] * len(candidate)
    assert " ".join(t.text for t in candidate) == f"{ANSWER} {ANSWER}"
    assert [(s.question_index, s.status) for s in store.saves] == [(0, "live"), (1, "live")]
