"""Engine and sessions: one session per unit of work, never left open in a transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


@dataclass(frozen=True, slots=True)
class EngineOptions:
    url: str
    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout_s: float = 30.0
    echo: bool = False

    def __post_init__(self) -> None:
        if not self.url.startswith("postgresql+asyncpg://"):
            raise ValueError("database URL must use the asyncpg driver: postgresql+asyncpg://...")
        if self.pool_size < 1:
            raise ValueError("pool_size must be at least 1")


def create_engine(options: EngineOptions) -> AsyncEngine:
    # pre_ping: a connection killed under us (Postgres restart) is replaced, not handed out.
    return create_async_engine(
        options.url,
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_timeout=options.pool_timeout_s,
        pool_pre_ping=True,
        echo=options.echo,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits on success and rolls back on any error (cancellation
    included), and whose connection always goes back to the pool: the predecessor's reused sessions
    left transactions open on every RAG search."""
    async with sessions() as session, session.begin():
        yield session
