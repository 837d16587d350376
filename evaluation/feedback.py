"""Per-answer strengths and improvements, in the interview's language, from the scores and features.

Deterministic text keyed by competency: a small LLM's free text would be unreliable, and the
feedback must say the same thing the numbers say. The evidence of each line is the judge's quote
for that competency when there is one.
"""

from __future__ import annotations

from evaluation.features import AnswerFeatures

STRONG = 70.0
WEAK = 45.0

_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    # competency -> language -> (strength, improvement)
    "relevance": {
        "en": ("Answers the question that was asked.", "Answer the question directly before adding context."),
        "ko": ("질문에 바로 답했습니다.", "배경 설명보다 질문에 대한 답을 먼저 말해 보세요."),
    },
    "depth": {
        "en": (
            "Concrete detail: own actions and figures.",
            "Add specifics: what you did yourself, with numbers (time, size, percentage).",
        ),
        "ko": (
            "본인의 행동과 수치로 구체적으로 설명했습니다.",
            "본인이 한 일과 수치(시간, 규모, 비율)를 더 구체적으로 말해 보세요.",
        ),
    },
    "structure": {
        "en": (
            "Clear situation, action and result.",
            "Use situation, action, result: say what happened, what you did, and what changed.",
        ),
        "ko": (
            "상황, 행동, 결과가 분명합니다.",
            "상황-행동-결과 순서로, 무엇을 했고 무엇이 달라졌는지 말해 보세요.",
        ),
    },
    "communication": {
        "en": ("Fluent and easy to follow.", "Fewer filler words and a steadier pace would make it clearer."),
        "ko": (
            "말이 유창하고 이해하기 쉽습니다.",
            "'음', '어' 같은 군말을 줄이고 속도를 일정하게 유지해 보세요.",
        ),
    },
    "role_fit": {
        "en": (
            "Connects well to the target role and the resume.",
            "Link the answer to the role and to your resume.",
        ),
        "ko": (
            "지원 직무와 이력서 경험에 잘 연결됩니다.",
            "답변을 지원 직무와 이력서의 경험에 연결해 보세요.",
        ),
    },
}


def text_for(competency: str, language: str, *, strength: bool) -> str:
    pair = _TEXT[competency]["ko" if language == "ko" else "en"]
    return pair[0] if strength else pair[1]


def feedback_for(
    f: AnswerFeatures,
    competencies: dict[str, float],
    evidence: list[str],
    language: str,
    *,
    quotes: dict[str, str] | None = None,
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """``quotes``: the judge's evidence per competency; a competency without one gets the answer's
    first evidence line."""
    first = evidence[0] if evidence else ""
    quotes = quotes or {}
    strengths: list[dict[str, str]] = []
    improvements: list[dict[str, str]] = []
    for name, value in sorted(competencies.items(), key=lambda kv: -kv[1]):
        if value >= STRONG:
            strengths.append(
                {
                    "competency": name,
                    "text": text_for(name, language, strength=True),
                    "evidence": quotes.get(name, first),
                }
            )
    for name, value in sorted(competencies.items(), key=lambda kv: kv[1]):
        if value < WEAK:
            detail = _detail(name, f, language)
            text = text_for(name, language, strength=False)
            improvements.append(
                {"competency": name, "text": f"{text} {detail}".strip(), "evidence": quotes.get(name, first)}
            )
    return strengths[:3], improvements[:3]


def _detail(name: str, f: AnswerFeatures, language: str) -> str:
    ko = language == "ko"
    if name == "communication" and f.fillers:
        return f"(군말 {f.fillers}회)" if ko else f"({f.fillers} filler words)"
    if name == "structure":
        missing = [p for p in ("situation", "action", "result") if p not in f.star]
        if missing:
            names = {"situation": "상황", "action": "행동", "result": "결과"}
            return (
                f"(빠진 부분: {', '.join(names[m] for m in missing)})"
                if ko
                else f"(missing: {', '.join(missing)})"
            )
    if name == "depth" and f.numbers == 0:
        return "(수치 없음)" if ko else "(no figures given)"
    return ""
