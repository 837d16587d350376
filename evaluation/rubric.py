"""A small model's judgement of one answer: a 0-5 rating per competency under a JSON schema.

Used for models too small to be the judge (SmolLM2-135M, ``ScoringOptions.rubric_models``); a model
that reads the answer goes through :mod:`evaluation.judge` instead. The small model is weak: its
output is checked (shape, range, a quote that really appears in the answer, not the same rating
for everything) and anything that fails is dropped with the reason, so scoring falls back to the
measured features instead of trusting noise.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from agent.models.base import ChatLLM, ChatMessage
from evaluation.model_reply import ask_checked

log = logging.getLogger(__name__)

COMPETENCIES = ("relevance", "depth", "structure", "communication", "role_fit")
"""Scored 0-100 in the stored results; the LLM rates each 0-5 and the rating is scaled by 20."""
RATING_MAX = 5

RUBRIC_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        # An enum, not minimum/maximum: the grammar converter enforces enums but not numeric ranges.
        **{name: {"type": "integer", "enum": list(range(RATING_MAX + 1))} for name in COMPETENCIES},
        "quote": {"type": "string", "maxLength": 100},
    },
    "required": [*COMPETENCIES, "quote"],
    "additionalProperties": False,
}

_SYSTEM = (
    "You are a strict interview evaluator. Rate the candidate's answer from 0 (very poor) to 5 "
    "(excellent) on: relevance (answers the question), depth (specific details, numbers, own actions), "
    "structure (situation, action, result), communication (clear and concise), role_fit (fits the "
    "target role). Short or vague answers get 0 or 1. Copy one short quote from the answer. JSON only."
)


@dataclass(frozen=True, slots=True)
class Rubric:
    ratings: dict[str, int]
    """Competency -> 0-5."""
    quote: str | None
    """A quote the model picked, kept only if it appears in the answer."""
    seconds: float


@dataclass(frozen=True, slots=True)
class RubricOutcome:
    rubric: Rubric | None
    rejected: str | None
    """Why the model's output was not used (None when it was)."""


def _norm(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.casefold()).strip()


def validate(raw: str, answer: str) -> tuple[dict[str, int], str | None]:
    """Parse and check the model's JSON; raises ValueError with the reason when unusable."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    ratings: dict[str, int] = {}
    for name in COMPETENCIES:
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= RATING_MAX:
            raise ValueError(f"{name} is {value!r}, expected an integer 0-{RATING_MAX}")
        ratings[name] = value
    if len(set(ratings.values())) == 1 and len(_norm(answer).split()) >= 12:
        # The same rating for every competency of a substantial answer: the model did not read it.
        raise ValueError(f"the same rating ({ratings['relevance']}) for every competency")
    quote = data.get("quote")
    kept = None
    if isinstance(quote, str) and len(_norm(quote)) >= 8 and _norm(quote) in _norm(answer):
        kept = quote.strip()
    return ratings, kept


async def judge(
    llm: ChatLLM, *, question: str, answer: str, target_role: str | None, max_tokens: int
) -> RubricOutcome:
    """Ask the model; a transient model failure (timeout) propagates so the task retries, any other
    failure or invalid output is returned as ``rejected``."""
    role = f"Target role: {target_role}\n" if target_role else ""
    messages = [
        # No worked example: the 135M model copies an example's ratings verbatim whatever the answer.
        ChatMessage("system", _SYSTEM),
        ChatMessage("user", f"{role}Question: {question[:400]}\nAnswer: {answer[:1500]}"),
    ]
    reply = await ask_checked(
        llm,
        messages,
        schema=RUBRIC_SCHEMA,
        max_tokens=max_tokens,
        check=lambda raw: validate(raw, answer),
        log=log,
        what="rubric",
    )
    if reply.value is None:
        return RubricOutcome(None, reply.rejected)
    ratings, quote = reply.value
    return RubricOutcome(Rubric(ratings, quote, reply.seconds), None)
