"""What one answer is: consecutive candidate turns for one question, grouped the same way for
scoring, the transcript API, the pages and the report (``evaluation.answers``)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any, cast

from agent.models.base import EmbeddingKind, Vectors
from evaluation.answers import AnswerKey, TurnView, answer_by_seq, group_answers, view_of
from evaluation.config import ScoringOptions
from evaluation.report import build_report, render_text
from evaluation.scoring import AnswerInput, score_answer, scoring_window
from evaluation.store import ReportInputs, is_current, supersedes
from tests.fakes import FakeEmbedder, FakeLLM


def iv(seq: int, text: str, kind: str | None, q: int | None, *, interrupted: bool = False) -> TurnView:
    return TurnView(seq, "interviewer", text, kind=kind, interrupted=interrupted, question_index=q)


def cand(
    seq: int, text: str, q: int | None, *, start: float | None = None, end: float | None = None
) -> TurnView:
    return TurnView(seq, "candidate", text, kind="answer", question_index=q, started_s=start, ended_s=end)


def keys(turns: list[TurnView]) -> list[tuple[str, tuple[int, ...]]]:
    return [(str(a.key), a.seqs) for a in group_answers(turns)]


def test_one_turn_per_question_is_one_answer_each() -> None:
    turns = [iv(0, "Tell me about X.", "greeting", 0), cand(1, "X was...", 0), iv(2, "And Y?", "next", 1)]
    turns.append(cand(3, "Y was...", 1))
    assert keys(turns) == [("0.0", (1,)), ("1.0", (3,))]
    answers = group_answers(turns)
    assert [a.question for a in answers] == ["Tell me about X.", "And Y?"]


def test_a_false_end_of_turn_cut_line_does_not_split_the_answer() -> None:
    # The candidate paused, the interviewer started the next question, the candidate went on: the
    # cut line is stored as interrupted and is not a question asked.
    turns = [
        iv(0, "Tell me about X.", "greeting", 0),
        cand(1, "First part.", 0, start=3.0, end=10.0),
        iv(2, "Thanks. Next, Y?", "next", 1, interrupted=True),
        cand(3, "Second part.", 0, start=11.0, end=20.0),
        iv(4, "Thanks. Next, Y?", "next", 1),
        cand(5, "Y answer.", 1),
    ]
    answers = group_answers(turns)
    assert [(str(a.key), a.seqs) for a in answers] == [("0.0", (1, 3)), ("1.0", (5,))]
    first = answers[0]
    assert first.text == "First part. Second part."
    assert first.question == "Tell me about X."
    assert first.last_seq == 3
    assert first.spoken_s == 16.0  # the pause and the cut line are not speaking time


def test_an_interrupted_next_line_without_a_question_index_on_the_candidate_keeps_the_answer() -> None:
    turns = [iv(0, "Q1", "greeting", 0), cand(1, "a", None), iv(2, "Q2", "next", 1, interrupted=True)]
    turns.append(cand(3, "b", None))
    assert keys(turns) == [("0.0", (1, 3))]


def test_follow_ups_are_answers_of_their_own_and_a_cut_follow_up_is_not() -> None:
    turns = [
        iv(0, "Q1", "greeting", 0),
        cand(1, "main answer", 0),
        iv(2, "Why that?", "follow_up", 0, interrupted=True),  # cut: the candidate went on
        cand(3, "main answer, continued", 0),
        iv(4, "Why that?", "follow_up", 0),
        cand(5, "because", 0),
        cand(6, "and also", 0),
        iv(7, "Q2", "next", 1),
        cand(8, "q2", 1),
    ]
    assert keys(turns) == [("0.0", (1, 3)), ("0.1", (5, 6)), ("1.0", (8,))]
    assert group_answers(turns)[1].question == "Why that?"


def test_a_rejoin_re_ask_and_prompts_continue_the_same_answer() -> None:
    turns = [
        iv(0, "Q1", "greeting", 0),
        cand(1, "q1", 0),
        iv(2, "Q2", "next", 1),
        cand(3, "q2 begins", 1),
        # the candidate dropped; on the rejoin the interviewer welcomes them back and re-asks Q2
        iv(4, "Welcome back. Q2", "resume", 1),
        cand(5, "q2 again", 1),
        iv(6, "Take your time.", "other", 1),
        cand(7, "q2 end", 1),
        iv(8, "Q3", "next", 2),
        cand(9, "q3", 2),
    ]
    assert keys(turns) == [("0.0", (1,)), ("1.0", (3, 5, 7)), ("2.0", (9,))]
    assert group_answers(turns)[1].question == "Q2"  # the question before its first turn


def test_a_request_to_repeat_stays_in_the_answer_but_is_not_what_is_scored() -> None:
    turns = [
        iv(0, "Q1", "greeting", 0),
        TurnView(1, "candidate", "Could you repeat the question?", kind="request", question_index=0),
        iv(2, "Of course. Q1", "repeat", 0),
        cand(3, "I built the billing service.", 0),
    ]
    [answer] = group_answers(turns)
    assert answer.seqs == (1, 3)
    assert answer.text == "I built the billing service."


def test_grouping_is_deterministic_and_order_of_input_does_not_matter() -> None:
    turns = [iv(0, "Q1", "greeting", 0), cand(1, "a", 0), cand(2, "b", 0), iv(3, "Q2", "next", 1)]
    turns.append(cand(4, "c", 1))
    assert keys(list(reversed(turns))) == keys(turns) == [("0.0", (1, 2)), ("1.0", (4,))]
    by_seq = answer_by_seq(group_answers(turns))
    assert by_seq[1] is by_seq[2]
    assert 0 not in by_seq  # interviewer lines belong to no answer
    assert AnswerKey(0, 1) < AnswerKey(1, 0)


def test_stored_rows_carry_kind_and_interrupted_in_their_latencies() -> None:
    view = view_of(
        seq=4,
        speaker="interviewer",
        text="Q2",
        latencies={"kind": "next", "interrupted": True, "first_audio_s": 0.3},
        question_index=1,
    )
    assert (view.kind, view.interrupted) == ("next", True)
    old = view_of(seq=1, speaker="interviewer", text="Q", latencies={}, question_index=None)
    assert (old.kind, old.interrupted) == (None, False)


def _evaluation(status: str, last_seq: int | None) -> Any:
    return SimpleNamespace(status=status, last_seq=last_seq)


def test_which_version_is_current_and_which_write_supersedes() -> None:
    answer = group_answers([iv(0, "Q", "greeting", 0), cand(1, "a", 0), cand(3, "b", 0)])[0]
    assert not is_current(None, answer)
    assert not is_current(_evaluation("done", 1), answer)  # scored before turn 3 joined
    assert is_current(_evaluation("done", 3), answer)
    assert is_current(_evaluation("failed", 3), answer)
    assert not is_current(_evaluation("running", 3), answer)
    assert not is_current(_evaluation("done", None), answer)  # an old per-turn row: first turn only
    single = group_answers([cand(1, "a", 0)])[0]
    assert is_current(_evaluation("done", None), single)
    assert supersedes(None, 1)
    assert supersedes(_evaluation("done", 1), 3)
    assert not supersedes(_evaluation("done", 3), 1)  # a late task never writes an older version


def test_a_monologue_is_scored_on_a_bounded_window_of_its_start_and_end() -> None:
    words = [f"w{i}" for i in range(5000)]
    text = " ".join(words)
    window = scoring_window(text, 1500)
    assert len(window) <= 1503
    assert window.startswith("w0 w1 ")
    assert window.endswith(" w4999")
    assert " … " in window
    assert scoring_window("short answer", 1500) == "short answer"


def _row(seq: int, speaker: str, text: str, kind: str, q: int, *, interrupted: bool = False) -> Any:
    latencies: dict[str, Any] = {"kind": kind, "interrupted": interrupted}
    return SimpleNamespace(id=uuid.uuid4(), seq=seq, speaker=speaker, text=text, latencies=latencies, q=q)


def _views(rows: list[Any]) -> list[TurnView]:
    return [
        view_of(
            seq=r.seq, speaker=r.speaker, text=r.text, latencies=r.latencies, question_index=r.q, turn_id=r.id
        )
        for r in rows
    ]


COMPETENCIES = ("relevance", "depth", "structure", "communication", "role_fit")


def _done(overall: float, last_seq: int | None, *, error: str | None = None, attempts: int = 1) -> Any:
    scores = {
        "overall": overall,
        "competencies": dict.fromkeys(COMPETENCIES, overall),
        "evidence": [],
        "strengths": [],
        "improvements": [],
    }
    return SimpleNamespace(
        status="done", scores=scores, error=error, attempts=attempts, features={}, last_seq=last_seq
    )


def test_the_report_lists_answers_not_turns() -> None:
    rows = [
        _row(0, "interviewer", "Tell me about the migration.", "greeting", 0),
        _row(1, "candidate", "We moved billing to Postgres.", "answer", 0),
        _row(2, "interviewer", "Thanks. What about", "next", 1, interrupted=True),
        _row(3, "candidate", "It cut costs by 30%.", "answer", 0),
        _row(4, "interviewer", "What about testing?", "next", 1),
        _row(5, "candidate", "We tested in staging.", "answer", 1),
    ]
    # the old row on a later turn of the first answer (before grouping) is not a second answer
    evaluations = {
        rows[1].id: _done(70.0, 3, attempts=2),
        rows[3].id: _done(10.0, None),
        rows[5].id: _done(60.0, 5),
    }
    interview = SimpleNamespace(id=uuid.uuid4(), language="en", target_role=None)
    inputs = ReportInputs(cast(Any, interview), None, cast(Any, rows), cast(Any, evaluations), _views(rows))
    report = build_report(inputs)
    assert report["answers_total"] == 2
    assert report["status"] == "complete"
    assert report["overall"] == 65.0
    first = report["answers"][0]
    assert first["turn_id"] == str(rows[1].id)
    assert first["seqs"] == [1, 3]
    assert first["answer"] == "We moved billing to Postgres. It cut costs by 30%."
    assert first["question"] == "Tell me about the migration."
    assert [p["seq"] for p in first["parts"]] == [1, 3]
    assert report["answers"][1]["question"] == "What about testing?"
    assert "(2 turns)" in render_text(report)


def test_a_score_of_an_earlier_version_makes_the_report_partial() -> None:
    rows = [
        _row(0, "interviewer", "Q", "greeting", 0),
        _row(1, "candidate", "part one", "answer", 0),
        _row(2, "candidate", "part two", "answer", 0),
    ]
    stale = _done(50.0, 1, error="ModelTimeoutError: slow", attempts=4)
    interview = SimpleNamespace(id=uuid.uuid4(), language="ko", target_role=None)
    report = build_report(
        ReportInputs(
            cast(Any, interview), None, cast(Any, rows), cast(Any, {rows[1].id: stale}), _views(rows)
        )
    )
    assert report["status"] == "partial"
    assert report["answers_scored"] == 1
    assert report["answers"][0]["complete"] is False
    assert report["answers_failed"][0]["error"] == "ModelTimeoutError: slow"
    assert "채점하지 못했습니다" in report["summary"]


def test_a_cut_line_the_plan_moved_past_still_names_the_next_answers_question() -> None:
    # Seen in a real call: the candidate spoke over the last words of each question, so both lines
    # are stored as interrupted, yet the plan moved on (the candidate's turn says Q2).
    turns = [
        iv(0, "Hello. Tell me about X.", "greeting", 0, interrupted=True),
        cand(1, "X was...", 0),
        iv(2, "Next question. And Y?", "next", 1, interrupted=True),
        cand(4, "Y was...", 1),
    ]
    answers = group_answers(turns)
    assert [(str(a.key), a.seqs) for a in answers] == [("0.0", (1,)), ("1.0", (4,))]
    assert [a.question for a in answers] == ["Hello. Tell me about X.", "Next question. And Y?"]
    # A line cut before a word was heard is stored empty: the plan's text names the question.
    blank = [iv(0, "", "greeting", 0, interrupted=True), cand(1, "X was...", 0)]
    assert group_answers(blank)[0].question == ""
    assert group_answers(blank, {0: "Tell me about X."})[0].question == "Tell me about X."
    # A whole line for the same question wins over a cut one.
    whole = [*turns[:3], iv(3, "And Y?", "next", 1), turns[3]]
    assert group_answers(whole)[1].question == "And Y?"


class RecordingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def _embed_impl(self, texts: list[str], kind: EmbeddingKind) -> Vectors:
        self.texts.extend(texts)
        return super()._embed_impl(texts, kind)


async def test_a_minutes_long_monologue_is_scored_and_the_models_read_a_bounded_window() -> None:
    sentence = "When I joined the team our billing jobs took six hours, so I rewrote them in parallel. "
    monologue = sentence * 300  # ~26,000 characters: about half an hour of speech
    options = ScoringOptions()
    embedder, llm = RecordingEmbedder(), FakeLLM({**dict.fromkeys(COMPETENCIES, 3), "depth": 4, "quote": ""})
    item = AnswerInput(
        question="Tell me about it.", answer=monologue, language="en", started_s=0.0, ended_s=1800.0
    )
    score = await score_answer(item, llm=llm, embedder=embedder, options=options)
    assert 0 <= score.overall <= 100
    assert score.features.words == len(monologue.split())  # the features read all of it
    assert max(len(t) for t in embedder.texts) <= options.window_chars + 3
    prompt = llm.calls[0][-1].content
    assert len(prompt) <= options.window_chars + 500
    assert "…" in prompt  # its start and its end, not the first 1,500 characters alone
