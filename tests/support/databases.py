"""Empty a PostgreSQL database between tests (and benchmark runs): PTM's tables and the
schema version, so the next start creates the latest schema."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

import store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from store import UowFactory


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


async def tenant_uows(engine: AsyncEngine, team_id: str = "T0URS") -> UowFactory:
    """Units of work for a workspace's tenant (created if need be), as a request would have."""
    from datetime import UTC, datetime

    from store import make_session_factory, uow_factory

    root = uow_factory(make_session_factory(engine))
    async with root.unscoped()() as uow:
        tenant = await uow.tenants.by_team(team_id)
        if tenant is None:
            tenant = await uow.tenants.create(team_id=team_id, now=datetime.now(UTC))
            await uow.commit()
    return root.for_tenant(tenant)
