"""Alembic environment. Runs on a connection handed in by ``db.migrate`` (the app's own engine)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from db.models import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline SQL generation is not supported
    raise RuntimeError("run migrations through `interview migrate` (db.migrate.upgrade)")

context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
