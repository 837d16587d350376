"""Checks a generated question must pass before it is asked. The shipped LLMs are tiny: these checks,
not the model, keep the interview sane."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.plan.stages import Language

_HANGUL = re.compile(r"[가-힣]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#.\-]{3,}|[가-힣]{2,}")
_PROMPT_MARKERS = (
    "resume facts",
    "stage:",
    "json",
    "candidate's resume",
    "interview question about",
    "you are an interviewer",
    "the candidate",  # a question to the candidate speaks to them, not about them
    "이력서 내용:",
    "단계:",
)
_KO_QUESTION_ENDINGS = ("?", "주세요.", "주시겠어요?", "십시오.", "나요?", "까요?")
_STOP = frozenset(
    [
        "what",
        "when",
        "where",
        "which",
        "with",
        "your",
        "have",
        "about",
        "from",
        "that",
        "this",
        "they",
        "them",
        "their",
        "there",
        "would",
        "could",
        "should",
        "tell",
        "describe",
        "explain",
        "please",
        "give",
        "how",
        "were",
        "been",
        "into",
        "more",
        "most",
        "some",
        "time",
        "work",
        "worked",
        "role",
        "team",
        "project",
        "projects",
        "experience",
    ]
)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str | None = None


def content_terms(text: str) -> set[str]:
    return {w.casefold().strip(".-") for w in _WORD.findall(text)} - _STOP


def is_grounded(question: str, sources: Sequence[str]) -> bool:
    """True when the question shares a content word with the resume text it cites."""
    q_terms = content_terms(question)
    return any(q_terms & content_terms(src) for src in sources)


def validate_question(
    question: str, *, language: Language, sources: Sequence[str], earlier: Sequence[str]
) -> Verdict:
    q = question.strip()
    if not 20 <= len(q) <= 240:
        return Verdict(False, f"length {len(q)} outside 20-240 characters")
    # Quoted resume text keeps its own language (Korean resumes are full of English terms).
    unquoted = re.sub(r"“[^”]*”", "", q)
    hangul, latin = len(_HANGUL.findall(unquoted)), len(_LATIN.findall(unquoted))
    if language == "ko" and hangul < max(5, latin * 0.5):
        return Verdict(False, "not Korean")
    if language == "en" and (hangul > 0 or latin < 15):
        return Verdict(False, "not English")
    if language == "en" and not q.endswith("?"):
        return Verdict(False, "does not end as a question")
    if language == "ko" and not q.endswith(_KO_QUESTION_ENDINGS):
        return Verdict(False, "does not end as a question")
    lowered = q.casefold()
    if any(marker in lowered for marker in _PROMPT_MARKERS):
        return Verdict(False, "repeats the prompt")
    for src in sources:
        # A question that is a resume line with a question mark stuck on is a copy, not a question.
        if len(q) > 30 and (q.rstrip("?").casefold() in src.casefold()):
            return Verdict(False, "copies the resume text")
    if not is_grounded(q, sources):
        return Verdict(False, "not grounded in the retrieved resume text")
    q_terms = content_terms(q)
    for other in earlier:
        o_terms = content_terms(other)
        if q_terms and len(q_terms & o_terms) / len(q_terms | o_terms) > 0.7:
            return Verdict(False, "repeats an earlier question")
    return Verdict(True)
