"""The grounding figure's own check (bench/grounding.py), independent of the planner's filter."""

from __future__ import annotations

import pytest

from bench.grounding import GroundingCheck, grounded_share, terms

RESUMES = {
    "ana": "Ana Kim. Backend engineer. Migrated the billing service to Kafka; cut p99 latency by 40%.",
    "ben": "Ben Park. Frontend engineer. Built the React design system used by six product teams.",
    "choi": "최보안. 보안 엔지니어. 침입탐지시스템을 구축하고 취약점 진단을 수행했습니다.",
}
PLANS = {
    "ana": ["Tell me about your project and the result you are proud of.", "How did Kafka help billing?"],
    "ben": ["Tell me about your project and the result you are proud of.", "Why a design system?"],
    "choi": ["침입탐지시스템을 구축하실 때 가장 어려웠던 점은 무엇인가요?"],
}


@pytest.fixture
def check() -> GroundingCheck:
    return GroundingCheck.build(RESUMES, PLANS, ["Tell me about your engineering experience."])


def test_a_question_naming_a_term_only_its_resume_has_is_grounded(check: GroundingCheck) -> None:
    assert check.evidence("ana", "How did Kafka help billing?") == {"kafka", "billing"}
    assert check.grounded("ben", "Why a design system?")
    assert check.grounded("choi", "침입탐지시스템을 구축하실 때 가장 어려웠던 점은 무엇인가요?")


def test_generic_or_shared_wording_and_other_candidates_terms_are_not(check: GroundingCheck) -> None:
    assert not check.grounded("ana", "Tell me about your project and the result you are proud of.")
    assert not check.grounded("ana", "What is your engineering experience?")  # shared by every resume
    assert not check.grounded("ben", "How did Kafka help billing?")  # Ana's terms, not Ben's


def test_share_and_tokenizer() -> None:
    check = GroundingCheck.build(RESUMES, PLANS)
    assert grounded_share(check, [("ana", "Kafka?"), ("ben", "Kafka?")]) == 50.0
    assert grounded_share(check, []) == 0.0
    assert {"보안", "p99", "40%"} <= terms("보안을 p99 40%")
    with pytest.raises(ValueError, match="two resumes"):
        GroundingCheck.build({"ana": RESUMES["ana"]}, {})
