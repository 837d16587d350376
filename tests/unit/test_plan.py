"""Stage allocation, question validation and the template fallback."""

from __future__ import annotations

import pytest

from agent.plan.stages import Stage, allocate
from agent.plan.templates import pick_fact, template_question
from agent.plan.validate import is_grounded, validate_question

FACTS = [
    "Senior Backend Engineer, Northwind Payments (2021 - Present)\n"
    "- Led the migration of the billing service to Kubernetes, cutting infrastructure costs by 30%.\n"
    "- jane@example.com | +1 415 555 0100"
]


@pytest.mark.parametrize("n", range(1, 21))
def test_allocate_counts_and_order(n: int) -> None:
    stages = allocate(n)
    assert len(stages) == n
    order = list(Stage)
    assert stages == sorted(stages, key=order.index)
    if n >= 5:
        assert set(stages) == set(Stage)
        assert stages[0] is Stage.INTRO
        assert stages[-1] is Stage.CLOSING


def test_allocate_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        allocate(0)


def test_eight_questions_favour_experience_and_technical() -> None:
    stages = allocate(8)
    assert stages.count(Stage.EXPERIENCE) == 2
    assert stages.count(Stage.TECHNICAL) == 2


GOOD = "How did you plan the billing service migration to Kubernetes, and what did it cost?"


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        (GOOD, None),
        ("Kubernetes?", "length"),
        ("How did you plan the billing service migration to Kubernetes, and what did it cost.", "question"),
        ("What is the most recent interview question you have ever asked a candidate?", "grounded"),
        ("Resume facts: Led the migration of the billing service to Kubernetes?", "prompt"),
        ("쿠버네티스로 결제 서비스를 이전하실 때 어떤 점이 어려웠나요?", "English"),
        (
            "Led the migration of the billing service to Kubernetes, cutting infrastructure costs by 30%?",
            "copies",
        ),
    ],
)
def test_validate_english(question: str, reason: str | None) -> None:
    verdict = validate_question(question, language="en", sources=FACTS, earlier=[])
    assert verdict.ok is (reason is None), verdict
    if reason:
        assert verdict.reason is not None
        assert reason in verdict.reason


def test_validate_rejects_repeat_of_earlier_question() -> None:
    verdict = validate_question(GOOD, language="en", sources=FACTS, earlier=[GOOD.replace("plan", "design")])
    assert not verdict.ok
    assert verdict.reason == "repeats an earlier question"


def test_validate_korean() -> None:
    ko_facts = ["정산 배치 시스템을 쿠버네티스로 이전하여 처리 시간을 40% 단축"]
    ok = validate_question(
        "정산 배치 시스템을 쿠버네티스로 이전하실 때 가장 어려웠던 점은 무엇이었나요?",
        language="ko",
        sources=ko_facts,
        earlier=[],
    )
    assert ok.ok, ok
    english = validate_question(GOOD, language="ko", sources=ko_facts, earlier=[])
    assert english.reason == "not Korean"


def test_grounding_needs_a_shared_content_word() -> None:
    assert is_grounded(GOOD, FACTS)
    assert not is_grounded("Where do you see yourself in five years?", FACTS)


def test_pick_fact_prefers_concrete_lines_over_contacts() -> None:
    fact = pick_fact(FACTS)
    assert fact is not None
    assert "Kubernetes" in fact
    assert "@" not in fact
    assert len(fact) <= 81


def test_pick_fact_empty() -> None:
    assert pick_fact([]) is None
    assert pick_fact(["ok"]) is None


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("stage", list(Stage))
def test_templates_are_valid_questions(language: str, stage: Stage) -> None:
    fact = pick_fact(FACTS)
    for variant in range(3):
        text = template_question(stage, language, fact, "Backend Engineer", variant)  # type: ignore[arg-type]
        verdict = validate_question(text, language=language, sources=FACTS, earlier=[])  # type: ignore[arg-type]
        assert verdict.ok, (text, verdict)


def test_template_without_fact_or_role() -> None:
    text = template_question(Stage.INTRO, "en", None, None, 0)
    assert "this role" in text
    assert text.endswith("?")
