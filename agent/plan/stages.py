"""Interview stages, how many questions each gets, and what each retrieves from the resume."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Language = Literal["en", "ko"]


class Stage(StrEnum):
    INTRO = "intro"
    EXPERIENCE = "experience"
    TECHNICAL = "technical"
    COLLABORATION = "collaboration"
    CLOSING = "closing"


@dataclass(frozen=True, slots=True)
class StageIntent:
    stage: Stage
    query: dict[Language, str]
    """What to retrieve from the resume for this stage (embedded as a search query)."""
    goal: dict[Language, str]
    """What the question should find out, told to the LLM."""


INTENTS: dict[Stage, StageIntent] = {
    Stage.INTRO: StageIntent(
        Stage.INTRO,
        {
            "en": "professional summary, current role and career goal",
            "ko": "자기소개 요약, 현재 직무와 커리어 목표",
        },
        {
            "en": "an opening question: who the candidate is and why this role",
            "ko": "지원자 소개와 지원 동기를 묻는 첫 질문",
        },
    ),
    Stage.EXPERIENCE: StageIntent(
        Stage.EXPERIENCE,
        {
            "en": "work experience, projects, responsibilities and achievements with results",
            "ko": "경력, 프로젝트, 담당 업무와 성과",
        },
        {
            "en": "the candidate's own role and measurable results in a past project",
            "ko": "과거 프로젝트에서 지원자의 역할과 성과",
        },
    ),
    Stage.TECHNICAL: StageIntent(
        Stage.TECHNICAL,
        {
            "en": "technical skills, programming languages, tools, systems and architecture",
            "ko": "기술 스택, 프로그래밍 언어, 도구, 시스템 설계",
        },
        {
            "en": "a technical decision, how it worked and its trade-offs",
            "ko": "기술적 결정과 그 트레이드오프",
        },
    ),
    Stage.COLLABORATION: StageIntent(
        Stage.COLLABORATION,
        {
            "en": "teamwork, leadership, mentoring, communication with stakeholders",
            "ko": "팀워크, 리더십, 멘토링, 협업과 커뮤니케이션",
        },
        {
            "en": "how the candidate worked with others and handled disagreement",
            "ko": "동료와의 협업과 갈등 해결 방식",
        },
    ),
    Stage.CLOSING: StageIntent(
        Stage.CLOSING,
        {
            "en": "career goals, learning, education and certifications",
            "ko": "커리어 목표, 학습, 학력과 자격증",
        },
        {"en": "a closing question about growth and motivation", "ko": "성장 방향과 동기를 묻는 마무리 질문"},
    ),
}

# Extra questions beyond one per stage go to the stages that say most about a candidate.
_EXTRA_ORDER = (Stage.EXPERIENCE, Stage.TECHNICAL, Stage.COLLABORATION, Stage.EXPERIENCE, Stage.TECHNICAL)
_SMALL_PLANS: dict[int, tuple[Stage, ...]] = {
    1: (Stage.EXPERIENCE,),
    2: (Stage.INTRO, Stage.EXPERIENCE),
    3: (Stage.INTRO, Stage.EXPERIENCE, Stage.TECHNICAL),
    4: (Stage.INTRO, Stage.EXPERIENCE, Stage.TECHNICAL, Stage.CLOSING),
}


def allocate(question_count: int) -> list[Stage]:
    """Stages for ``question_count`` questions, in interview order."""
    if question_count < 1:
        raise ValueError("question_count must be at least 1")
    if question_count in _SMALL_PLANS:
        return list(_SMALL_PLANS[question_count])
    counts = dict.fromkeys(Stage, 1)
    for i in range(question_count - len(Stage)):
        counts[_EXTRA_ORDER[i % len(_EXTRA_ORDER)]] += 1
    return [stage for stage in Stage for _ in range(counts[stage])]
