"""Initial schema: resumes and their chunks (pgvector), interviews, questions, turns, evaluations,
reports, answer bank.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DIM = 384
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()


def _created_at() -> sa.Column[datetime]:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "resumes",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("parsed", JSONB, nullable=False),
        sa.Column("target_role", sa.String(200)),
        sa.Column("target_role_source", sa.String(16), nullable=False),
        _created_at(),
    )
    op.create_table(
        "resume_chunks",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "resume_id", UUID, sa.ForeignKey("resumes.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("ord", sa.Integer, nullable=False),
        sa.Column("section", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("embedding", Vector(DIM), nullable=False),
        sa.Column("embedding_model", sa.String(100), nullable=False),
        sa.UniqueConstraint("resume_id", "ord"),
    )
    op.create_index(
        "ix_resume_chunks_embedding_hnsw",
        "resume_chunks",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_table(
        "interviews",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "resume_id", UUID, sa.ForeignKey("resumes.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("target_role", sa.String(200)),
        sa.Column("question_count", sa.Integer, nullable=False),
        sa.Column("current_question", sa.Integer, nullable=False),
        sa.Column("followup_used", sa.Boolean, nullable=False),
        sa.Column("plan_stats", JSONB, nullable=False),
        _created_at(),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "questions",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("interview_id", UUID, sa.ForeignKey("interviews.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ord", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("chunk_ids", JSONB, nullable=False),
        sa.Column("rejected_reason", sa.Text),
        sa.Column("audio_key", sa.String(64)),
        sa.UniqueConstraint("interview_id", "ord"),
    )
    op.create_table(
        "turns",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("interview_id", UUID, sa.ForeignKey("interviews.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question_id", UUID, sa.ForeignKey("questions.id", ondelete="SET NULL")),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("started_s", sa.Float),
        sa.Column("ended_s", sa.Float),
        sa.Column("latencies", JSONB, nullable=False),
        sa.Column("audio_path", sa.Text),
        _created_at(),
        sa.UniqueConstraint("interview_id", "seq"),
    )
    op.create_index("ix_turns_interview_speaker", "turns", ["interview_id", "speaker"])
    op.create_table(
        "evaluations",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "turn_id", UUID, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("scores", JSONB, nullable=False),
        sa.Column("features", JSONB, nullable=False),
        sa.Column("error", sa.Text),
        _created_at(),
    )
    op.create_table(
        "reports",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "interview_id",
            UUID,
            sa.ForeignKey("interviews.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("scores", JSONB, nullable=False),
        _created_at(),
    )
    op.create_table(
        "answer_bank",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "question_id", UUID, sa.ForeignKey("questions.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column(
            "turn_id", UUID, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("embedding", Vector(DIM), nullable=False),
        _created_at(),
    )


def downgrade() -> None:
    for table in (
        "answer_bank",
        "reports",
        "evaluations",
        "turns",
        "questions",
        "interviews",
        "resume_chunks",
        "resumes",
    ):
        op.drop_table(table)
