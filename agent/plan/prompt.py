"""The prompt that asks the LLM for one interview question about one resume line.

The LLM is given the line the template path would build on (picked by
:func:`agent.plan.templates.pick_fact`, so both paths ask about the same fact and the plan never asks
about one line twice) and the stage's goal, never whole chunks: a short prompt keeps a question near
the budget of a few seconds on 2 cores. The worked examples come first and never change within a
language, so llama.cpp reuses their evaluated prefix from one question of a plan to the next and
only the last turn is new work.

The examples are written for this prompt (none comes from a fixture resume) and show what a person
asks: the line paraphrased, not quoted; a labelled list ("Tools: ...") read as the tools it names;
numbers kept as written; a date range read as a date, not a head count.
"""

from __future__ import annotations

import json
from typing import Any

from agent.models.base import ChatMessage
from agent.plan.stages import INTENTS, Language, Stage

QUESTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"question": {"type": "string", "minLength": 20, "maxLength": 200}},
    "required": ["question"],
    "additionalProperties": False,
}

_SYSTEM: dict[Language, str] = {
    "en": (
        "You are an experienced job interviewer. Given one line of a candidate's resume and a goal, "
        "ask the candidate one short, natural question in English (at most 25 words) about that line. "
        "Name one or two things from it, not a list. "
        "Say it in your own words: never copy or quote the line, never repeat its label. Keep every "
        "number exactly as the line has it. Ask one thing, once. Answer with JSON only."
    ),
    "ko": (
        "당신은 경험 많은 면접관입니다. 지원자의 이력서 한 줄과 질문 목표를 보고, 그 내용에 대해 "
        "지원자에게 자연스러운 한국어 질문을 한 문장(80자 이내)으로, '-하셨나요?'처럼 높임말로 "
        "하세요. 이력서 문장을 그대로 옮기거나 따옴표로 인용하지 말고 풀어서 말하세요. '기술:' 같은 "
        "항목 이름은 쓰지 마세요. 숫자는 이력서에 적힌 그대로 쓰세요. 기술 이름 말고는 영어 단어를 "
        "쓰지 말고, 나열하지 말고 한두 가지만 짚으세요. 같은 말을 반복하지 마세요. JSON으로만 답하세요."
    ),
}

# (stage, resume line, question): one result with figures, one labelled list, one title with dates.
_EXAMPLES: dict[Language, tuple[tuple[Stage, str, str], ...]] = {
    "en": (
        (
            Stage.EXPERIENCE,
            "Rebuilt the warehouse picking app in Flutter, raising orders packed per shift from 900 to "
            "1,400.",
            "What did you change in the picking app that took a shift from 900 to 1,400 orders packed?",
        ),
        (
            Stage.TECHNICAL,
            "Tools: Terraform, Grafana, GitLab CI",
            "How did you decide what to manage with Terraform, and what did Grafana show you that "
            "logs could not?",
        ),
        (
            Stage.COLLABORATION,
            "Release Coordinator, Harbor Mobile (2016 - 2019), three app teams",
            "At Harbor Mobile, how did you settle a disagreement between the three app teams about "
            "a release date?",
        ),
    ),
    "ko": (
        (
            Stage.EXPERIENCE,
            "물류 창고 피킹 앱을 Flutter로 다시 만들어 교대당 포장 건수를 900건에서 1,400건으로 늘렸습니다.",
            "피킹 앱을 다시 만드실 때 포장 건수를 900건에서 1,400건으로 늘린 핵심 변화는 무엇이었나요?",
        ),
        (
            Stage.TECHNICAL,
            "도구: Terraform, Grafana, GitLab CI",
            "Terraform으로 관리할 대상은 어떻게 정하셨고, Grafana로는 어떤 문제를 먼저 발견하셨나요?",
        ),
        (
            Stage.COLLABORATION,
            "하버모바일 릴리스 코디네이터 (2016 - 2019), 앱 팀 세 곳",
            "하버모바일에서 세 앱 팀이 출시 일정을 두고 의견이 갈렸을 때 어떻게 조율하셨나요?",
        ),
    ),
}

_LABELS: dict[Language, tuple[str, str, str]] = {
    "en": ("Goal", "Resume line", "Target role"),
    "ko": ("목표", "이력서 내용", "지원 직무"),
}


def _turn(language: Language, stage: Stage, line: str, role: str | None = None) -> str:
    goal, resume, role_label = _LABELS[language]
    role_line = f"{role_label}: {role}\n" if role else ""
    return f"{role_line}{goal}: {INTENTS[stage].goal[language]}\n{resume}: {line}"


def example_questions(language: Language) -> list[str]:
    """The worked examples' questions: a generated question must not repeat one of them."""
    return [question for _, _, question in _EXAMPLES[language]]


def question_messages(stage: Stage, language: Language, line: str, role: str | None) -> list[ChatMessage]:
    """The chat for one question about ``line``: the fixed system text and examples, then the line."""
    messages = [ChatMessage("system", _SYSTEM[language])]
    for ex_stage, ex_line, ex_question in _EXAMPLES[language]:
        messages.append(ChatMessage("user", _turn(language, ex_stage, ex_line)))
        messages.append(ChatMessage("assistant", json.dumps({"question": ex_question}, ensure_ascii=False)))
    messages.append(ChatMessage("user", _turn(language, stage, line, role)))
    return messages
