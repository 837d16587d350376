"""The one schema for a parsed resume, stored as JSONB (the predecessor had two names for one block)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FieldSource = Literal["rules", "llm", "client"]


class ResumeHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=120)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    target_role: str | None = Field(default=None, max_length=200)
    years_experience: float | None = Field(default=None, ge=0, le=60)
    skills: list[str] = Field(default_factory=list, max_length=40)
    links: list[str] = Field(default_factory=list, max_length=20)


class SectionInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    chars: int = Field(ge=0)


class ParsedResume(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    language: Literal["en", "ko"]
    header: ResumeHeader
    sections: list[SectionInfo]
    sources: dict[str, FieldSource] = Field(default_factory=dict)
    """Which extractor supplied each header field: deterministic rules, the LLM, or the client."""
