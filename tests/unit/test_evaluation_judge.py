"""The LLM judge without a real model: its reply validation (ratings in range, quotes that the
answer really contains), its prompt, and how its ratings make the score. The fake LLM subclasses the
real ChatLLM, so the public call path (thread, timeout, errors) runs for real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.models.base import ChatMessage
from evaluation import judge_prompt
from evaluation.config import ScoringOptions
from evaluation.judge import JUDGE_SCHEMA, validate
from evaluation.rubric import COMPETENCIES
from evaluation.scoring import AnswerInput, score_answer
from tests.fakes import FakeEmbedder, FakeLLM

ANSWER = (
    "Heap snapshots an hour apart showed thumbnail buffers piling up. They were held by a cache keyed "
    "on the full URL, so every signed URL made a new entry. I keyed it on the image path."
)
QUESTION = "How did you find the cause of the memory leak?"
GOOD_REPLY: dict[str, tuple[int, str]] = {
    "relevance": (5, "Heap snapshots an hour apart"),
    "depth": (4, "a cache keyed on the full URL"),
    "structure": (4, "I keyed it on the image path"),
    "communication": (5, "thumbnail buffers piling up"),
    "role_fit": (3, "every signed URL made a new entry"),
}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "answers"


def test_a_valid_reply_keeps_every_rating_with_its_quote() -> None:
    judgement = validate(json.dumps(GOOD_REPLY), ANSWER)
    assert judgement.ratings == {k: v[0] for k, v in GOOD_REPLY.items()}
    assert judgement.quotes["depth"] == "a cache keyed on the full URL"
    assert judgement.dropped == {}


def test_a_quote_differing_only_in_case_and_punctuation_is_found() -> None:
    reply = {**GOOD_REPLY, "relevance": [5, "heap snapshots, an hour apart!"]}
    judgement = validate(json.dumps(reply), ANSWER)
    assert judgement.ratings["relevance"] == 5
    assert judgement.quotes["relevance"] == "Heap snapshots an hour apart"  # as the candidate said it


def test_a_quote_not_in_the_answer_drops_that_rating() -> None:
    reply = {**GOOD_REPLY, "depth": [5, "I led a team of twenty engineers"], "role_fit": [3, "cache keyed"]}
    judgement = validate(json.dumps(reply), ANSWER)
    assert "depth" not in judgement.ratings
    assert judgement.dropped["depth"].startswith("quote not in the answer")
    # Whole words: "cache keyed" is in the answer, "ache key" (inside words) would not be.
    assert judgement.ratings["role_fit"] == 3
    partial = {**GOOD_REPLY, "role_fit": [3, "ache key"]}
    assert "role_fit" in validate(json.dumps(partial), ANSWER).dropped


def test_too_few_quotes_from_the_answer_reject_the_judgement() -> None:
    invented = {name: [5, "I rewrote the whole platform in Rust"] for name in COMPETENCIES}
    invented["relevance"] = [5, "Heap snapshots"]
    with pytest.raises(ValueError, match=r"only 1 rating\(s\) with a quote from the answer"):
        validate(json.dumps(invented), ANSWER)
    empty = {name: [1, ""] for name in COMPETENCIES}
    with pytest.raises(ValueError, match="only 0 rating"):
        validate(json.dumps(empty), ANSWER)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({**GOOD_REPLY, "depth": [6, "a cache keyed on the full URL"]}), "depth rating is 6"),
        (json.dumps({**GOOD_REPLY, "depth": [0, "a cache keyed on the full URL"]}), "depth rating is 0"),
        (json.dumps({**GOOD_REPLY, "depth": [True, "a cache keyed"]}), "depth rating is True"),
        (json.dumps({**GOOD_REPLY, "depth": ["4", "a cache keyed"]}), "depth rating is '4'"),
        (json.dumps({**GOOD_REPLY, "depth": 4}), r"depth is 4, expected \[rating, quote\]"),
        (json.dumps({k: v for k, v in GOOD_REPLY.items() if k != "structure"}), "structure is None"),
    ],
)
def test_malformed_or_out_of_range_replies_are_rejected(reply: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate(reply, ANSWER)


def test_the_schema_converts_to_a_grammar() -> None:
    # llama.cpp falls back to "any JSON" when a schema does not convert: make sure this one does,
    # through the same conversion the LLM uses.
    from agent.models.llm import _close_llama_devnull_at_exit, _grammar_for

    _close_llama_devnull_at_exit()  # importing llama_cpp opens files it only closes at exit
    grammar = _grammar_for(json.dumps(JUDGE_SCHEMA, sort_keys=True))
    gbnf = grammar._grammar
    assert "relevance" in gbnf
    assert "role_fit" in gbnf
    assert "[1-5]" in gbnf or '"1"' in gbnf


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_prompts_examples_pass_their_own_validation(language: str) -> None:
    messages = judge_prompt.messages_for(QUESTION, ANSWER, "Backend Engineer", language)
    assert messages[0].role == "system"
    assert messages[-1].content.endswith(ANSWER)
    pairs = list(zip(messages[1:-1:2], messages[2:-1:2], strict=True))
    assert len(pairs) == 3
    ratings = []
    for user, assistant in pairs:
        assert (user.role, assistant.role) == ("user", "assistant")
        example_answer = user.content.split("\n")[-1].split(": ", 1)[1]
        judgement = validate(assistant.content, example_answer)
        assert judgement.dropped == {}
        ratings.append(judgement.ratings["relevance"])
    assert (min(ratings), max(ratings)) == (1, 5)  # both ends of the scale are shown
    assert ratings[-1] < 5  # a small model leans on the last example: not a strong one


def test_korean_answers_get_the_korean_prompt() -> None:
    messages = judge_prompt.messages_for(
        "캐시는 어떻게 쓰셨나요?", "Redis를 썼습니다.", "백엔드 개발자", "ko"
    )
    assert "면접 답변" in messages[0].content
    assert (
        messages[-1].content
        == "지원 직무: 백엔드 개발자\n질문: 캐시는 어떻게 쓰셨나요?\n답변: Redis를 썼습니다."
    )


def test_the_examples_come_from_neither_labelled_set() -> None:
    examples = [m.content for m in judge_prompt.messages_for("q", "a", None, "en")[1:-1]]
    examples += [m.content for m in judge_prompt.messages_for("q", "a", None, "ko")[1:-1]]
    for name in ("calibration.json", "validation.json"):
        for item in json.loads((FIXTURES / name).read_text(encoding="utf-8"))["items"]:
            assert not any(item["question"] in text or item["answer"][:60] in text for text in examples)


def _item(answer: str = ANSWER, language: str = "en", question: str = QUESTION) -> AnswerInput:
    return AnswerInput(question=question, answer=answer, language=language, started_s=0.0, ended_s=15.0)


async def test_the_judges_ratings_are_the_main_signal() -> None:
    options = ScoringOptions(llm_weight=0.8)
    reply = {**GOOD_REPLY, "role_fit": [3, "not something the answer said"]}
    score = await score_answer(_item(), llm=FakeLLM(reply), embedder=FakeEmbedder(), options=options)
    assert score.llm_kind == "judge"
    assert score.llm_rejected is None
    for name, (rating, _) in GOOD_REPLY.items():
        if name == "role_fit":
            # Its quote was not in the answer: the feature score stands in, and the reason is kept.
            assert score.competencies[name] == score.feature_scores[name]
            assert score.llm_dropped[name].startswith("quote not in the answer")
            continue
        expected = 0.2 * score.feature_scores[name] + 0.8 * (rating - 1) * 25
        assert score.competencies[name] == pytest.approx(expected, abs=0.11)
    assert score.evidence[:2] == ["Heap snapshots an hour apart", "a cache keyed on the full URL"]
    stored = score.scores_json()["llm"]
    assert stored["kind"] == "judge"
    assert stored["scale"] == "1-5"
    assert stored["quotes"]["depth"] == "a cache keyed on the full URL"


async def test_a_judged_short_answer_beats_a_long_one_full_of_markers() -> None:
    long_poor = (
        "When I was at my previous company, the situation was that our team had a challenge. My task "
        "was to improve the culture. I led weekly reviews, I built dashboards and I mentored two "
        "engineers. As a result we reduced incidents by 40 percent and increased velocity by 30 "
        "percent, which led to a much happier team and 99 percent uptime."
    )

    def reply(messages: list[ChatMessage]) -> str:
        answer = messages[-1].content.split("Answer: ", 1)[1]
        if answer == ANSWER:
            return json.dumps(GOOD_REPLY)
        quote = "I led weekly reviews"
        return json.dumps({name: [1 if name == "relevance" else 2, quote] for name in COMPETENCIES})

    llm = FakeLLM(reply)
    kwargs: dict[str, Any] = {"llm": llm, "embedder": FakeEmbedder(), "options": ScoringOptions()}
    features_only = ScoringOptions(llm_languages=())
    strong = await score_answer(_item(), **kwargs)
    weak = await score_answer(_item(long_poor), **kwargs)
    assert strong.overall > weak.overall + 30
    # Without the judge the features prefer the long answer: the reason the judge leads.
    assert (
        await score_answer(_item(long_poor), llm=llm, embedder=FakeEmbedder(), options=features_only)
    ).overall > (await score_answer(_item(), llm=llm, embedder=FakeEmbedder(), options=features_only)).overall


async def test_a_korean_answer_is_judged_and_a_bad_reply_falls_back_to_features() -> None:
    answer = "APM에서 느린 요청을 모아 보니 주문 목록 API였고, 정렬 조건 때문에 인덱스를 타지 않았습니다."
    reply = {
        "relevance": [5, "느린 요청을 모아 보니"],
        "depth": [4, "인덱스를 타지 않았습니다"],
        "structure": [4, "주문 목록 API였고"],
        "communication": [4, "APM에서 느린 요청을"],
        "role_fit": [4, "정렬 조건 때문에"],
    }
    llm = FakeLLM(reply)
    score = await score_answer(
        _item(answer, "ko", "원인을 어떻게 찾으셨나요?"),
        llm=llm,
        embedder=FakeEmbedder(),
        options=ScoringOptions(),
    )
    assert score.llm_kind == "judge"
    assert score.llm_ratings == {k: v[0] for k, v in reply.items()}
    assert "면접 답변" in llm.calls[0][0].content
    bad = {**reply, "depth": [9, "인덱스를 타지 않았습니다"]}
    fallback = await score_answer(
        _item(answer, "ko"), llm=FakeLLM(bad), embedder=FakeEmbedder(), options=ScoringOptions()
    )
    assert fallback.llm_kind is None
    assert fallback.llm_rejected == "invalid model output: depth rating is 9, expected an integer 1-5"
    assert fallback.competencies == fallback.feature_scores
