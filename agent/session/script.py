"""Everything the interviewer says that is not a planned question, in English and Korean.

Fixed sentences are synthesized once and served from the speech cache, so they cost nothing at the
moment they are said; each choice below is a deterministic function of the interview position, so
the sentence pre-synthesized while the candidate answers is the one the reply will need.
"""

from __future__ import annotations

from typing import Literal

from agent.plan.stages import Language
from agent.session.state import InterviewPlan, InterviewState, PlanQuestion

FollowUpReason = Literal["unknown", "short", "role", "result", "vague"]

FOLLOW_UPS: dict[Language, dict[FollowUpReason, str]] = {
    "en": {
        "unknown": "That's all right. Could you tell me about a related experience instead?",
        "short": "Could you tell me a bit more about that?",
        "role": "What was your own part in that, personally?",
        "result": "What was the outcome, and how did you measure it?",
        "vague": "Could you give a concrete example of that?",
    },
    "ko": {
        "unknown": "괜찮습니다. 비슷한 경험이 있다면 말씀해 주시겠어요?",
        "short": "조금 더 자세히 말씀해 주시겠어요?",
        "role": "그중에서 본인이 직접 맡은 부분은 무엇이었나요?",
        "result": "결과는 어땠고, 어떻게 측정하셨나요?",
        "vague": "구체적인 예를 들어 주시겠어요?",
    },
}

ACKNOWLEDGEMENTS: dict[Language, tuple[str, ...]] = {
    "en": ("Thank you.", "I see."),
    "ko": ("감사합니다.", "네, 알겠습니다."),
}

_TRANSITIONS: dict[Language, tuple[str, ...]] = {
    "en": ("Let's move on.", "Next question.", "All right, moving on."),
    "ko": ("다음 질문입니다.", "다음으로 넘어가겠습니다.", "이어서 여쭤보겠습니다."),
}

_CLOSING: dict[Language, str] = {
    "en": "That was my last question. Thank you for your time today; we will be in touch soon. Goodbye.",
    "ko": "준비한 질문은 여기까지입니다. 오늘 시간 내 주셔서 감사합니다. 안녕히 계세요.",
}

_GREETING: dict[Language, str] = {
    "en": "Hello, and thank you for joining. I'm your interviewer today. Let's begin.",
    "ko": "안녕하세요, 면접에 참여해 주셔서 감사합니다. 오늘 면접을 진행하겠습니다.",
}

_RESUMING: dict[Language, str] = {
    "en": "Welcome back. Let's continue where we left off.",
    "ko": "다시 오신 것을 환영합니다. 이어서 진행하겠습니다.",
}

SYSTEM_PROMPT: dict[Language, str] = {
    "en": "You are a friendly, concise job interviewer. Reply in one or two short sentences.",
    "ko": "당신은 친절하고 간결한 면접관입니다. 한두 문장으로 짧게 답하세요.",
}


def opening(plan: InterviewPlan, state: InterviewState) -> str:
    """The first thing said on (re)joining: a greeting and the current question."""
    question = plan.question(state.question_index)
    if question is None:
        return closing(plan.language)
    lead = _RESUMING if state.status == "live" or state.question_index > 0 else _GREETING
    return f"{lead[plan.language]} {question.text}"


def next_question(question: PlanQuestion, language: Language) -> str:
    transitions = _TRANSITIONS[language]
    return f"{transitions[question.ord % len(transitions)]} {question.text}"


def closing(language: Language) -> str:
    return _CLOSING[language]


def acknowledgement(language: Language, n: int) -> str:
    options = ACKNOWLEDGEMENTS[language]
    return options[n % len(options)]


def fixed_utterances(language: Language) -> list[str]:
    """Sentences worth synthesizing before the call starts."""
    return [*FOLLOW_UPS[language].values(), closing(language)]
