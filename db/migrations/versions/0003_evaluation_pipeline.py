"""Evaluation pipeline: per-answer attempts and overall score, the interview an evaluation belongs to,
the report's status and full content, the embedding model of answer-bank entries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)


def _updated_at() -> sa.Column[object]:
    return sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    # interview_id lets the report read an interview's evaluations with one indexed query; turn_id
    # stays the unique key every retried or late task upserts on.
    op.add_column(
        "evaluations",
        sa.Column("interview_id", UUID, sa.ForeignKey("interviews.id", ondelete="CASCADE"), nullable=True),
    )
    op.create_index("ix_evaluations_interview_id", "evaluations", ["interview_id"])
    op.add_column("evaluations", sa.Column("overall", sa.Float))
    op.add_column(
        "evaluations", sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0"))
    )
    op.add_column("evaluations", sa.Column("worker", sa.String(200)))
    op.add_column("evaluations", _updated_at())
    op.add_column(
        "reports", sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'complete'"))
    )
    op.add_column(
        "reports",
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column("reports", _updated_at())
    op.add_column("answer_bank", sa.Column("embedding_model", sa.String(100)))


def downgrade() -> None:
    op.drop_column("answer_bank", "embedding_model")
    for column in ("updated_at", "details", "status"):
        op.drop_column("reports", column)
    for column in ("updated_at", "worker", "attempts", "overall"):
        op.drop_column("evaluations", column)
    op.drop_index("ix_evaluations_interview_id", table_name="evaluations")
    op.drop_column("evaluations", "interview_id")
