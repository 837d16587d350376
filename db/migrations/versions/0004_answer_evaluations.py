"""One evaluation per answer: which version of the answer an evaluation scored.

An answer is one or more candidate turns (``evaluation.answers``); its evaluation stays keyed by
the answer's first turn (``evaluations.turn_id``, unique as before). ``last_seq`` is the ``seq`` of
the answer's last turn when it was scored, so a re-score after a turn joined replaces the row and a
late, older one never does. Both columns are nullable: rows written before this revision read as
single-turn answers and older code ignores the columns.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evaluations", sa.Column("last_seq", sa.Integer, nullable=True))
    op.add_column("evaluations", sa.Column("turn_count", sa.Integer, nullable=True))
    # The abandoned-interview sweep looks for live interviews by state.
    op.create_index("ix_interviews_state", "interviews", ["state"])


def downgrade() -> None:
    op.drop_index("ix_interviews_state", table_name="interviews")
    op.drop_column("evaluations", "turn_count")
    op.drop_column("evaluations", "last_seq")
