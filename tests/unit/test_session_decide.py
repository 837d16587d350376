"""After each answer: one follow-up at most, then the next question, then the close; the LLM only
refines unclear cases, under a schema, within its budget, and never speaks unvalidated."""

from __future__ import annotations

import asyncio

import pytest

from agent.errors import ModelError
from agent.session import script
from agent.session.decide import Decider, decide_next, followup_reason, similar, valid_followup
from agent.session.state import InterviewPlan, InterviewState
from tests.fakes import FakeLLM

PLAN = InterviewPlan.of(
    "en", ["Tell me about the billing migration you led?", "How did you test the new pipeline?"]
)
KO_PLAN = InterviewPlan.of("ko", ["결제 서비스 이전 경험을 말씀해 주시겠어요?", "테스트는 어떻게 하셨나요?"])
CONCRETE = (
    "I led the migration of our billing service to Kubernetes. I wrote the rollout plan, moved "
    "twelve services over three months and we cut hosting costs by 30 percent."
)
VAGUE = "It was a big project with a lot of moving parts and many people involved in all of it overall."


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "short"),
        ("Yes, I did that.", "short"),
        ("Honestly I don't know, I was not really part of that decision at the time.", "unknown"),
        ("We moved everything over in a few months and the team was happy with it.", "role"),
        (VAGUE, "vague"),
        (CONCRETE, None),
    ],
)
def test_followup_reasons_en(answer: str, reason: str | None) -> None:
    assert followup_reason(answer, "en") == reason


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("네 했습니다.", "short"),
        ("솔직히 잘 모르겠습니다 그 부분은 제가 담당하지 않았습니다.", "unknown"),
        (
            "제가 결제 서비스를 쿠버네티스로 이전했고 비용을 30% 절감했습니다 "
            "팀과 함께 석 달 동안 진행했습니다.",
            None,
        ),
        ("그 프로젝트는 정말 크고 여러 사람이 함께 했던 기억에 남는 일이었습니다 좋았습니다.", "vague"),
    ],
)
def test_followup_reasons_ko(answer: str, reason: str | None) -> None:
    assert followup_reason(answer, "ko") == reason


def test_rule_follow_up_then_next_then_close() -> None:
    q0, q1 = PLAN.questions
    first = decide_next(VAGUE, q0, False, next_question=q1, language="en")
    assert first.kind == "follow_up"
    assert first.text == "Could you give a concrete example of that?"
    # One follow-up per question: a weak answer to it still moves on.
    second = decide_next(VAGUE, q0, True, next_question=q1, language="en")
    assert second.kind == "next"
    assert second.text.endswith(q1.text)
    good = decide_next(CONCRETE, q0, False, next_question=q1, language="en")
    assert good.kind == "next"
    last = decide_next(CONCRETE, q1, False, next_question=None, language="en")
    assert last.kind == "close"
    assert last.text == script.closing("en")


def test_korean_templates() -> None:
    q0, q1 = KO_PLAN.questions
    follow = decide_next("네.", q0, False, next_question=q1, language="ko")
    assert follow.kind == "follow_up"
    assert follow.text == "조금 더 자세히 말씀해 주시겠어요?"
    assert script.FOLLOW_UPS["ko"]["vague"] == "구체적인 예를 들어 주시겠어요?"
    assert decide_next("네.", q1, True, next_question=None, language="ko").text == script.closing("ko")


async def test_llm_follow_up_used_when_valid_and_only_last_message_sent() -> None:
    llm = FakeLLM({"decision": "follow_up", "follow_up": "How many services did the team move over?"})
    decider = Decider(llm)
    decision = await decider.decide(VAGUE, InterviewState(status="live"), PLAN)
    assert decision.kind == "follow_up"
    assert decision.source == "llm"
    assert decision.text == "How many services did the team move over?"
    (messages,) = llm.calls
    assert [m.role for m in messages] == ["system", "user"]
    assert VAGUE in messages[1].content
    llm.close()


async def test_llm_invalid_follow_up_falls_back_to_template() -> None:
    llm = FakeLLM({"decision": "follow_up", "follow_up": "candidate json follow_up"})
    decision = await Decider(llm).decide(VAGUE, InterviewState(status="live"), PLAN)
    assert decision.kind == "follow_up"
    assert decision.source == "template"
    assert decision.text == script.FOLLOW_UPS["en"]["vague"]
    llm.close()


async def test_llm_next_overrides_rule_follow_up() -> None:
    llm = FakeLLM({"decision": "next", "follow_up": ""})
    decision = await Decider(llm).decide(VAGUE, InterviewState(status="live"), PLAN)
    assert decision.kind == "next"
    assert decision.text.endswith(PLAN.questions[1].text)
    llm.close()


@pytest.mark.parametrize(
    "llm", [FakeLLM(delay_s=0.5), FakeLLM("not json"), FakeLLM(fail_with=ModelError("boom"))]
)
async def test_llm_late_or_garbage_keeps_the_rule(llm: FakeLLM) -> None:
    decider = Decider(llm, wait_s=0.1)
    decision = await decider.decide(VAGUE, InterviewState(status="live"), PLAN)
    assert decision.source == "rule"
    assert decision.kind == "follow_up"
    await decider.aclose()
    llm.close()


async def test_speculation_at_the_pause_is_reused_for_nearly_the_same_words() -> None:
    llm = FakeLLM({"decision": "next", "follow_up": ""}, delay_s=0.2)
    decider = Decider(llm, wait_s=0.0)
    state = InterviewState(status="live")
    heard = VAGUE.removesuffix(" overall.")
    assert decider.speculate(heard, state, PLAN)
    await asyncio.sleep(0.4)  # the final transcript takes longer than the model
    decision = await decider.decide(VAGUE, state, PLAN)
    assert decision.source == "llm"
    assert decision.kind == "next"
    assert decider.llm_calls == 1
    llm.close()


async def test_busy_model_with_other_words_keeps_the_rule() -> None:
    llm = FakeLLM({"decision": "next", "follow_up": ""}, delay_s=0.5)
    decider = Decider(llm, wait_s=0.1)
    state = InterviewState(status="live")
    assert decider.speculate("Something else entirely about a different topic and people.", state, PLAN)
    assert not decider.speculate(VAGUE, state, PLAN)  # one call at a time
    decision = await decider.decide(VAGUE, state, PLAN)
    assert decision.source == "rule"
    assert decider.llm_calls == 1
    await decider.aclose()
    llm.close()


def test_similar() -> None:
    assert similar("He hoped there would be stew for dinner", "He hoped there would be stew for dinner.")
    assert similar(
        "one two three four five six seven eight nine", "one two three four five six seven eight nine ten"
    )
    assert not similar("one two three", "one two three four five six seven eight nine ten")
    assert similar("", "")


async def test_clear_cases_skip_the_llm() -> None:
    llm = FakeLLM({"decision": "follow_up", "follow_up": "Why?"})
    decider = Decider(llm)
    short = await decider.decide("Yes.", InterviewState(status="live"), PLAN)
    assert short.reason == "short"
    used = await decider.decide(VAGUE, InterviewState(followup_used=True, status="live"), PLAN)
    assert used.kind == "next"
    korean = await decider.decide("네.", InterviewState(status="live"), KO_PLAN)
    assert korean.source == "rule"
    assert llm.calls == []
    llm.close()


def test_valid_followup() -> None:
    answer = "I moved twelve services to Kubernetes."
    assert valid_followup("Which of the twelve services was hardest to move?", question="Q?", answer=answer)
    assert not valid_followup("Which one?", question="Q?", answer=answer)
    assert not valid_followup("Tell me about the weather today please.", question="Q?", answer=answer)
    assert not valid_followup("서비스는 몇 개였나요?", question="Q?", answer=answer)
