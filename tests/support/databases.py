"""Empty a PostgreSQL database between tests (and benchmark runs): PTM's tables and the
schema version, so the next start creates the latest schema."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import store.models  # noqa: F401  (registers the tables on SQLModel.metadata)


async def fresh_postgres(url: str) -> None:
    """Start from empty tables."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
        await conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    await engine.dispose()


@asynccontextmanager
async def sqlite_write_lock(sqlite_url: str) -> AsyncIterator[None]:
    """Another writer (say a large `ptm partners import`) holds the SQLite database. The lock is
    taken off the event loop: waiting for it on the loop would stall the bot's own writer that
    holds it just then, and neither would move until the busy timeout."""
    path = sqlite_url.split("///", 1)[1]
    blocker = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
