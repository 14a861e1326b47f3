"""Empty a PostgreSQL database between tests (and benchmark runs): PTM's tables and the
schema version, so the next start creates the latest schema."""

from __future__ import annotations

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
