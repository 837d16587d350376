"""Storage: SQLAlchemy models, sessions, migrations, embedded Postgres/Redis start-up, caches and queries.

Imports nothing of ours.
"""
