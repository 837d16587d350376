"""SQLAlchemy 2 models. The schema itself is owned by the Alembic migrations in ``db/migrations``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

EMBEDDING_DIM = 384
"""multilingual-e5-small and all-MiniLM-L6-v2 both give 384 dimensions; a bigger model needs a migration."""


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, uuid.UUID: UUID(as_uuid=True)}


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


def _created_at() -> Mapped[datetime]:
    # Server time, never a worker's wall clock: workers' clocks drift (predecessor lesson 4).
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Resume(Base):
    __tablename__ = "resumes"

    id: Mapped[uuid.UUID] = _uuid_pk()
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    parsed: Mapped[dict[str, Any]]
    """One schema: ``agent.resume.schema.ParsedResume`` (validated before it is stored)."""
    target_role: Mapped[str | None] = mapped_column(String(200))
    target_role_source: Mapped[str] = mapped_column(String(16))
    """``resume`` when the resume names the role (the source of truth), ``client`` or ``none`` otherwise."""
    created_at: Mapped[datetime] = _created_at()


class ResumeChunk(Base):
    __tablename__ = "resume_chunks"
    __table_args__ = (
        UniqueConstraint("resume_id", "ord"),
        Index(
            "ix_resume_chunks_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    resume_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resumes.id", ondelete="CASCADE"), index=True)
    ord: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM))
    embedding_model: Mapped[str] = mapped_column(String(100))


class Interview(Base):
    __tablename__ = "interviews"

    id: Mapped[uuid.UUID] = _uuid_pk()
    resume_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resumes.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    language: Mapped[str] = mapped_column(String(8))
    target_role: Mapped[str | None] = mapped_column(String(200))
    """Copied from the resume at creation (the resume is the source of truth)."""
    question_count: Mapped[int] = mapped_column(Integer)
    current_question: Mapped[int] = mapped_column(Integer, default=0)
    followup_used: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_ups: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    """Whether the interviewer may ask one follow-up per question."""
    plan_stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner_token: Mapped[int | None] = mapped_column(BigInteger)
    """The fencing token of the process that owns the live room (writes with a lower one are refused)."""
    created_at: Mapped[datetime] = _created_at()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("interview_id", "ord"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    ord: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    """``llm`` when the model's question passed validation, ``template`` for the deterministic fallback."""
    chunk_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    audio_key: Mapped[str | None] = mapped_column(String(64))


class Turn(Base):
    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("interview_id", "seq"),
        Index("ix_turns_interview_speaker", "interview_id", "speaker"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    question_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    started_s: Mapped[float | None] = mapped_column(Float)
    ended_s: Mapped[float | None] = mapped_column(Float)
    latencies: Mapped[dict[str, Any]] = mapped_column(default=dict)
    audio_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[uuid.UUID] = _uuid_pk()
    turn_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), unique=True)
    """The upsert key: a retried or late task rewrites its row, never adds one."""
    interview_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    """``running``, ``done`` or ``failed`` (with ``error`` saying why)."""
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    features: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    overall: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(200))
    """``host:pid`` of the last attempt."""
    last_seq: Mapped[int | None] = mapped_column(Integer)
    """The answer's version scored: the ``seq`` of its last turn then (None: a row from before
    answers were grouped, read as a one-turn answer). ``turn_id`` is the answer's first turn."""
    turn_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[uuid.UUID] = _uuid_pk()
    interview_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), unique=True
    )
    summary: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="complete", server_default="complete")
    """``complete``, or ``partial`` when some answers could not be scored (the report says which)."""
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """The whole report: ``evaluation.report.build_report``'s output."""
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AnswerBankEntry(Base):
    __tablename__ = "answer_bank"

    id: Mapped[uuid.UUID] = _uuid_pk()
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    turn_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM))
    embedding_model: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()
