"""The fencing token of the process that owns an interview's live room.

Several ``serve`` processes share the interviews; one owns a live room at a time through a lease in
Redis whose token only grows. ``owner_token`` is the newest owner's token, raised once the previous
owner has flushed its writes; a turn or progress write carrying a lower token is refused, so a
process that missed the handover cannot move the interview on. Nullable: an interview never joined
has no owner, and rows from before this revision accept the first owner.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("interviews", sa.Column("owner_token", sa.BigInteger, nullable=True))


def downgrade() -> None:
    op.drop_column("interviews", "owner_token")
