"""Measured features of one answer: length, speaking rate, filler words, situation/action/result
structure, specificity. Pure functions of the text and the turn's timings, in English and Korean.

The embedding similarities (to the question, to the resume) are computed in :mod:`evaluation.scoring`
and stored beside these.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_WORD = re.compile(r"[\w'%.+#-]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|(?<=다\.)\s*|(?<=요\.)\s*|\n+")

# Fillers counted as whole words (case-folded). "like" is a filler only when set off by commas or
# opening a clause ("like, we ..."), not in "I like Python": see _english_fillers.
EN_FILLERS = ("um", "umm", "uh", "uhh", "erm", "er", "hmm", "ah")
EN_FILLER_PHRASES = ("you know", "i mean", "sort of", "kind of")
# Korean hesitation words as standalone tokens. "그" and "이제" are also ordinary words ("그 프로젝트",
# "이제 시작"), so they count only when followed by a pause mark or another filler.
KO_FILLERS = ("음", "음음", "어", "어어", "으음", "엄", "저기", "저", "뭐랄까", "그러니까", "막", "약간")
KO_PAUSED_FILLERS = ("그", "이제", "뭐")

_STAR_MARKERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "situation": (
            r"\bwhen (?:i|we) (?:was|were|joined|worked)\b",
            r"\bat my (?:previous|last|current)\b",
            r"\bthe (?:situation|problem|challenge|issue|context) was\b",
            r"\bwe had (?:a|an)\b",
            r"\bin my (?:previous|last|current) (?:role|job|team|project)\b",
            r"\bour (?:team|service|system)\b",
        ),
        "task": (
            r"\bmy (?:task|goal|job|role|responsibility) was\b",
            r"\bi was (?:responsible|asked|tasked)\b",
            r"\b(?:we|i) needed to\b",
            r"\bthe goal was\b",
            r"\bi had to\b",
        ),
        "action": (
            r"\bi (?:\w+ed|built|wrote|led|made|ran|set up|took|chose|drove|found|broke|rewrote|began)\b",
            r"\bso i\b",
            r"\bi decided\b",
        ),
        "result": (
            r"\bas a result\b",
            r"\bresult(?:ed|s)?\b",
            r"\b(?:reduced|increased|improved|cut|saved|"
            r"doubled|halved|dropped|grew|raised|lowered)\b",
            r"\d+(?:\.\d+)?\s*(?:%|percent|x|times|ms|"
            r"seconds|minutes|hours|users|customers)\b",
            r"\bin the end\b",
            r"\bwhich (?:led|meant)\b",
        ),
    },
    "ko": {
        "situation": (r"당시", r"상황", r"문제가", r"프로젝트에서", r"때\b", r"회사에서", r"팀에서"),
        "task": (r"목표", r"담당", r"역할", r"맡", r"해야\s*했"),
        "action": (
            r"구현",
            r"설계",
            r"도입",
            r"개발했",
            r"적용",
            r"만들",
            r"작성했",
            r"분석했",
            r"개선했",
            r"바꿨",
        ),
        "result": (
            r"결과",
            r"줄였",
            r"줄어",
            r"늘렸",
            r"늘어",
            r"감소",
            r"증가",
            r"단축",
            r"\d+\s*%",
            r"\d+\s*배",
            r"향상",
            r"개선되",
        ),
    },
}


def language_of(text: str) -> str:
    """``ko`` when Hangul makes up a fair share of the letters, else ``en``."""
    letters = sum(ch.isalpha() for ch in text)
    if letters == 0:
        return "en"
    return "ko" if len(_HANGUL.findall(text)) / letters >= 0.3 else "en"


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def sentences(text: str) -> list[str]:
    """Sentences (or clauses, for unpunctuated transcripts) worth quoting: at least three words."""
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    if len(parts) <= 1 and len(words(text)) > 40:
        # A transcript without punctuation: cut at commas and connectives instead.
        parts = [p.strip() for p in re.split(r",\s+|\s+(?:and then|so|but)\s+", text) if p.strip()]
    return [p for p in parts if len(words(p)) >= 3]


def _english_fillers(text: str) -> int:
    lowered = text.casefold()
    tokens = words(lowered)
    count = sum(1 for t in tokens if t in EN_FILLERS)
    count += sum(len(re.findall(rf"\b{re.escape(p)}\b", lowered)) for p in EN_FILLER_PHRASES)
    count += len(re.findall(r"(?:^|[,.;]\s*)like,|,\s*like\b", lowered))
    return count


def _korean_fillers(text: str) -> int:
    tokens = re.findall(r"[^\s,.…!?]+|[,.…!?]", text)
    count = 0
    for i, token in enumerate(tokens):
        bare = token.rstrip("~")
        if bare in KO_FILLERS:
            count += 1
        elif bare in KO_PAUSED_FILLERS:
            after = tokens[i + 1] if i + 1 < len(tokens) else "."
            if after in (",", "…", ".") or after in KO_FILLERS or after in KO_PAUSED_FILLERS:
                count += 1
    return count


def filler_count(text: str, language: str) -> int:
    # Both lists run on every answer: candidates mix languages ("음, so I ...").
    return _english_fillers(text) + (_korean_fillers(text) if language == "ko" or _HANGUL.search(text) else 0)


def star_parts(text: str, language: str) -> list[str]:
    """Which of situation/task/action/result the answer shows, by phrase markers."""
    markers = _STAR_MARKERS["ko" if language == "ko" else "en"]
    lowered = text.casefold()
    return [part for part, patterns in markers.items() if any(re.search(p, lowered) for p in patterns)]


@dataclass(frozen=True, slots=True)
class AnswerFeatures:
    language: str
    words: int
    chars: int
    sentences: int
    duration_s: float | None
    speaking_rate: float | None
    """Words per minute (English) or syllables per second (Korean: each Hangul syllable)."""
    speaking_rate_unit: str
    fillers: int
    filler_per_100_words: float
    star: tuple[str, ...]
    numbers: int
    """Figures quoted (counts, percentages, durations): a sign of a concrete answer."""
    question_similarity: float | None = None
    resume_similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["star"] = list(self.star)
        return data


def measure(text: str, *, started_s: float | None, ended_s: float | None, language: str) -> AnswerFeatures:
    tokens = words(text)
    duration = None
    if started_s is not None and ended_s is not None and ended_s > started_s:
        duration = round(ended_s - started_s, 3)
    rate: float | None = None
    unit = "syllables/s" if language == "ko" else "words/min"
    if duration:
        rate = len(_HANGUL.findall(text)) / duration if language == "ko" else len(tokens) / duration * 60
        rate = round(rate, 2)
    fillers = filler_count(text, language)
    return AnswerFeatures(
        language=language,
        words=len(tokens),
        chars=len(text),
        sentences=len(sentences(text)),
        duration_s=duration,
        speaking_rate=rate,
        speaking_rate_unit=unit,
        fillers=fillers,
        filler_per_100_words=round(100 * fillers / max(len(tokens), 1), 2),
        star=tuple(star_parts(text, language)),
        numbers=len(re.findall(r"\d+(?:[.,]\d+)?", text)),
    )
