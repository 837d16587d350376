"""The bench's question checker flags the faults seen in real plans and passes clean questions."""

from __future__ import annotations

import pytest

from bench.question_defects import question_defects, repeated_topics


@pytest.mark.parametrize(
    ("question", "language", "fault"),
    [
        (
            "Thinking of “Proficient in MongoDB, Express.js, React, and”, how did you work with your team?",
            "en",
            "quoted_fragment",
        ),
        (
            "How did you choose to pursue a career in MERN Stack development and AI, and what motivated "
            "you to pursue a career in MERN Stack development and AI?",
            "en",
            "repeated_clause",
        ),
        (
            "How did you manage a team of 2019 to create a full-featured web application?",
            "en",
            "number_misread",
        ),
        (
            "이력서에 “Spring Boot를 활용한 REST API 개발”라고 적어 주셨는데요, 어떤 역할을 맡으셨나요?",
            "ko",
            "wrong_particle",
        ),
        (
            "“성과: 응답 속도 30% 개선”와 관련해 내리신 기술적 결정을 설명해 주시겠어요?",
            "ko",
            "wrong_particle",
        ),
        (
            "“Languages: Java, Python, JavaScript” 경험에서 직접 맡으신 역할은 무엇이었나요?",
            "ko",
            "list_label",
        ),
        ("Python를 사용한 시스템에서 부하가 열 배로 늘면 무엇이 먼저 문제가 될까요?", "ko", "wrong_particle"),
        ("개발를 하시면서 가장 어려웠던 점은 무엇이었나요? 자세히 말씀해 주세요.", "ko", "wrong_particle"),
        ("You mention {subject}. What was your role?", "en", "placeholder"),
    ],
)
def test_faults_are_found(question: str, language: str, fault: str) -> None:
    assert fault in question_defects(question, language=language)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("How did you go about cutting infrastructure costs by 30%, and how did you confirm it?", "en"),
        ("Redis를 사용한 시스템에서 부하가 열 배로 늘면 무엇이 먼저 문제가 될까요?", "ko"),
        ("API를 설계하실 때 어떤 점을 가장 먼저 고려하셨나요? 구체적으로 말씀해 주세요.", "ko"),
        ("응답 속도를 30% 개선하신 과정이 궁금해요. 어디서부터 시작하셨나요?", "ko"),
        ("Python으로 작업하시면서 내리신 기술적 결정 하나를 설명해 주시겠어요?", "ko"),
        ("HTML로 화면을 만드실 때 접근성은 어떻게 확인하셨나요? 자세히 말씀해 주세요.", "ko"),
    ],
)
def test_clean_questions_pass(question: str, language: str) -> None:
    assert question_defects(question, language=language, sources=["30% 개선"]) == []


def test_numbers_must_come_from_the_resume() -> None:
    question = "How did you cut costs by 45%, and how did you confirm it was the change?"
    assert "number_misread" in question_defects(question, language="en", sources=["cut costs by 30%"])
    assert question_defects(question, language="en", sources=["cut costs by 45%"]) == []


def test_a_topic_asked_twice_in_a_plan_is_flagged() -> None:
    first = "향후 행위 기반 분석 및 AI를 활용한 보완의 필요성을 절감하신 경험에 대해 여쭤볼게요."
    second = "향후 행위 기반 분석 및 AI를 활용한 보완의 필요성을 절감하신 과정에서 팀과 어떻게 협업하셨나요?"
    other = "Redis를 사용한 시스템에서 부하가 열 배로 늘면 무엇이 먼저 문제가 될까요?"
    assert repeated_topics([first, other, second], language="ko") == [False, False, True]
