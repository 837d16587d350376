"""Request and response bodies of the REST API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent.resume.schema import ParsedResume


class ResumeOut(BaseModel):
    id: uuid.UUID
    filename: str
    pages: int
    language: Literal["en", "ko"]
    target_role: str | None
    target_role_source: Literal["resume", "client", "none"]
    parsed: ParsedResume
    chunks: int
    timings_s: dict[str, float] = Field(default_factory=dict)


class InterviewCreate(BaseModel):
    resume_id: uuid.UUID
    language: Literal["en", "ko"] | None = Field(
        default=None, description="Interview language; defaults to the resume's language."
    )
    question_count: int = Field(default=8, ge=1, le=50)
    follow_ups: bool = Field(default=True, description="Allow one follow-up question per planned question.")


class QuestionOut(BaseModel):
    ord: int
    stage: str
    text: str
    source: Literal["llm", "template"]
    chunk_ids: list[str]


class InterviewOut(BaseModel):
    id: uuid.UUID
    resume_id: uuid.UUID
    state: str
    language: Literal["en", "ko"]
    target_role: str | None
    question_count: int
    current_question: int
    follow_ups: bool = True
    created_at: datetime | None
    plan_stats: dict[str, object]
    questions: list[QuestionOut]


class ErrorDetail(BaseModel):
    code: str
    message: str
    retryable: bool


class ErrorOut(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    redis: bool
    models: list[str]
    process: str | None = Field(
        default=None, description="This serve process (behind a proxy, which one answered)"
    )
    calls: int | None = Field(default=None, description="Live calls this process runs now")
    max_calls: int | None = Field(
        default=None, description="Live calls this process may run (INTERVIEWER_MAX_ROOMS)"
    )


class InterviewCreated(InterviewOut):
    join_token: str
    """Signed, expiring token that lets the candidate join this interview's call (only returned here)."""
