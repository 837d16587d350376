"""Header extraction: deterministic rules first, the LLM under a JSON schema for the gaps, and every
LLM value checked against the resume text so a tiny model cannot invent a name or a role."""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agent.errors import InterviewerError
from agent.models.base import ChatLLM, ChatMessage, GenerationOptions
from agent.resume.chunking import heading_section
from agent.resume.rules import extract_header_rules
from agent.resume.schema import FieldSource, ResumeHeader
from agent.textutil import fit_chars

log = logging.getLogger(__name__)

_HEAD_CHARS = 1800  # the header block and the first lines of experience: fits a 2k-token context


class _LLMHeader(BaseModel):
    name: str | None = Field(default=None, max_length=80)
    target_role: str | None = Field(default=None, max_length=80)
    years_experience: float | None = Field(default=None, ge=0, le=60)
    skills: list[str] = Field(default_factory=list, max_length=15)


LLM_HEADER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": ["string", "null"], "maxLength": 80},
        "target_role": {"type": ["string", "null"], "maxLength": 80},
        "years_experience": {"type": ["number", "null"]},
        "skills": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 15},
    },
    "required": ["name", "target_role", "years_experience", "skills"],
}

_SYSTEM = (
    "You extract facts from a resume. Answer with JSON only. Copy values exactly as written in the "
    "resume; use null when the resume does not say."
)


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _appears_in(value: str, text: str) -> bool:
    return len(value.strip()) >= 2 and _normalize(value) in _normalize(text)


async def _ask_llm(llm: ChatLLM, text: str) -> _LLMHeader | None:
    messages = [
        ChatMessage("system", _SYSTEM),
        ChatMessage(
            "user",
            f"Resume:\n{fit_chars(text, _HEAD_CHARS)}\n\n"
            "Extract name, target_role, years_experience, skills.",
        ),
    ]
    try:
        completion = await llm.complete(
            messages, schema=LLM_HEADER_SCHEMA, options=GenerationOptions(max_tokens=160, temperature=0.0)
        )
        return _LLMHeader.model_validate(json.loads(completion.text))
    except (InterviewerError, ValidationError, json.JSONDecodeError) as exc:
        # The rules already gave a header; a failed model call only loses the gap-filling.
        log.warning("LLM header extraction failed, keeping rule-based header: %s", exc)
        return None


async def extract_header(
    text: str, sections: list[tuple[str, str]], llm: ChatLLM | None
) -> tuple[ResumeHeader, dict[str, FieldSource]]:
    rules = extract_header_rules(text, sections)
    values: dict[str, Any] = {
        "name": rules.name,
        "email": rules.email,
        "phone": rules.phone,
        "target_role": rules.target_role,
        "years_experience": rules.years_experience,
        "skills": list(rules.skills),
        "links": list(rules.links),
    }
    sources: dict[str, FieldSource] = {k: "rules" for k, v in values.items() if v not in (None, [])}
    if llm is not None and any(
        values[k] in (None, []) for k in ("name", "target_role", "years_experience", "skills")
    ):
        answer = await _ask_llm(llm, text)
        if answer is not None:
            _fill_from_llm(values, sources, answer, text)
    return ResumeHeader.model_validate(values), sources


def _fill_from_llm(
    values: dict[str, Any], sources: dict[str, FieldSource], answer: _LLMHeader, text: str
) -> None:
    field: Literal["name", "target_role"]
    for field in ("name", "target_role"):
        candidate = getattr(answer, field)
        # A section heading ("Experience", "경력") appears in every resume and names no one's role.
        if (
            values[field] is None
            and candidate
            and _appears_in(candidate, text)
            and not heading_section(candidate)
        ):
            values[field] = candidate.strip()
            sources[field] = "llm"
    years = answer.years_experience
    if values["years_experience"] is None and years is not None and re.search(rf"\b{int(years)}\b", text):
        values["years_experience"] = years
        sources["years_experience"] = "llm"
    known = {s.casefold() for s in values["skills"]}
    extra = [s.strip() for s in answer.skills if _appears_in(s, text) and s.strip().casefold() not in known]
    if extra:
        values["skills"] = (values["skills"] + extra)[:40]
        sources.setdefault("skills", "llm")
