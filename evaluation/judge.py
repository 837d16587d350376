"""The LLM judge: a 1-5 rating per competency, each with a quote from the answer as its evidence.

Built for a model that reads the answer (Qwen2.5-Coder-1.5B-Instruct by default), in English and
Korean, under a JSON schema that the grammar enforces. The output is still checked, because the
grammar converter falls back to any JSON when it cannot convert a schema and a fake or another
backend may not enforce it at all: a malformed reply or a rating out of range rejects the whole
judgement; a quote that the answer does not contain drops that competency's rating (the feature
score stands in for it), and too few ratings left rejects the judgement. A rejected judgement is
returned with its reason, so scoring falls back to the measured features.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from agent.models.base import ChatLLM
from evaluation.judge_prompt import QUOTE_MAX_CHARS, TOPIC_MAX_CHARS, messages_for
from evaluation.model_reply import ask_checked
from evaluation.rubric import COMPETENCIES

log = logging.getLogger(__name__)

JUDGE_MIN = 1
JUDGE_MAX = 5
MIN_RATINGS_KEPT = 3
"""Fewer ratings with a real quote than this and the judgement is not trusted at all."""

JUDGE_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        # The model's own note of what was asked and what was answered, written before it rates.
        "asked": {"type": "string", "maxLength": TOPIC_MAX_CHARS},
        "answered": {"type": "string", "maxLength": TOPIC_MAX_CHARS},
        **{
            name: {
                "type": "array",
                # A [rating, quote] pair: half the tokens of {"rating": .., "quote": ..}, and output
                # tokens are most of the judge's time. An enum, not minimum/maximum: the grammar
                # converter enforces enums but not numeric ranges.
                "prefixItems": [
                    {"type": "integer", "enum": list(range(JUDGE_MIN, JUDGE_MAX + 1))},
                    {"type": "string", "maxLength": QUOTE_MAX_CHARS},
                ],
                "minItems": 2,
                "maxItems": 2,
            }
            for name in COMPETENCIES
        },
    },
    "required": ["asked", "answered", *COMPETENCIES],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class Judgement:
    ratings: dict[str, int]
    """Competency -> 1-5, only the competencies whose quote was found in the answer."""
    quotes: dict[str, str]
    """Competency -> the quote, as the answer spells it."""
    dropped: dict[str, str] = field(default_factory=dict)
    """Competency -> why its rating was not used."""
    seconds: float = 0.0
    answered: str = ""
    """What the model says the answer is about (kept for the reader of the scores)."""


@dataclass(frozen=True, slots=True)
class JudgeOutcome:
    judgement: Judgement | None
    rejected: str | None
    """Why the model's output was not used (None when it was)."""


def normalize(text: str) -> str:
    """Case, punctuation and spacing folded away: a quote differing only in those still counts."""
    return re.sub(r"[^\w]+", " ", text.casefold()).strip()


def as_spelled(quote: str, answer: str) -> str:
    """The stretch of ``answer`` that ``quote`` matched, with the answer's own case and punctuation:
    evidence shown to a reader must be what the candidate said."""
    words = normalize(quote).split()
    pattern = r"[^\w]+".join(re.escape(w) for w in words)
    found = re.search(rf"(?<!\w){pattern}(?!\w)", answer, flags=re.IGNORECASE)
    return found.group(0) if found else " ".join(quote.split())


def validate(raw: str, answer: str) -> Judgement:
    """Parse and check the model's reply; raises ValueError with the reason when unusable."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    haystack = f" {normalize(answer)} "
    ratings: dict[str, int] = {}
    quotes: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name in COMPETENCIES:
        value = data.get(name)
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError(f"{name} is {value!r}, expected [rating, quote]")
        rating, quote = value
        if isinstance(rating, bool) or not isinstance(rating, int) or not JUDGE_MIN <= rating <= JUDGE_MAX:
            raise ValueError(f"{name} rating is {rating!r}, expected an integer {JUDGE_MIN}-{JUDGE_MAX}")
        if not isinstance(quote, str) or not normalize(quote):
            dropped[name] = "no quote"
            continue
        # Whole words only: "cache" must not be found inside "cached".
        if f" {normalize(quote)} " not in haystack:
            dropped[name] = f"quote not in the answer: {quote[:QUOTE_MAX_CHARS]!r}"
            continue
        ratings[name] = rating
        quotes[name] = as_spelled(quote, answer)
    if len(ratings) < MIN_RATINGS_KEPT:
        reasons = "; ".join(f"{k}: {v}" for k, v in dropped.items())
        raise ValueError(f"only {len(ratings)} rating(s) with a quote from the answer ({reasons})")
    answered = data.get("answered")
    return Judgement(ratings, quotes, dropped, answered=answered.strip() if isinstance(answered, str) else "")


async def judge(
    llm: ChatLLM,
    *,
    question: str,
    answer: str,
    language: str,
    target_role: str | None,
    max_tokens: int,
) -> JudgeOutcome:
    """Ask the model; a transient model failure (timeout) propagates so the task retries, any other
    failure or invalid output is returned as ``rejected``."""
    reply = await ask_checked(
        llm,
        messages_for(question[:400], answer, target_role, language),
        schema=JUDGE_SCHEMA,
        max_tokens=max_tokens,
        check=lambda raw: validate(raw, answer),
        log=log,
        what="judge",
    )
    judgement = reply.value
    if judgement is None:
        return JudgeOutcome(None, reply.rejected)
    return JudgeOutcome(
        Judgement(judgement.ratings, judgement.quotes, judgement.dropped, reply.seconds, judgement.answered),
        None,
    )
