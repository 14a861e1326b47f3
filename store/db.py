"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg); schema creation."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

# Execution option for a transaction that only reads (see `read_only`).
READ_ONLY = "ptm_read_only"


async def read_only(session: AsyncSession) -> None:
    """Mark the session's coming transaction as read-only (no effect once one has begun)."""
    if not session.in_transaction():
        await session.connection(execution_options={READ_ONLY: True})


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create an engine; SQLite gets WAL, foreign keys and write-serialising transactions."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # Day buckets (metrics) are UTC days whatever the server's own time zone is.
        connect_args={"server_settings": {"timezone": "UTC"}},
    )


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so we can BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _set_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY
        # when another writer got there first; IMMEDIATE waits for the lock instead. A long
        # read-only transaction (a report) takes no lock, so writers go on meanwhile (WAL).
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _set_wal(cursor: Any) -> None:
    """Switch to WAL. On a new file opened by several processes at once the switch can fail
    at once with "database is locked" (SQLite does not wait for it): try again briefly."""
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 99:
                raise
            time.sleep(0.05)


def upsert_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT that supports ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_schema(engine: AsyncEngine) -> None:
    """Create the schema of an empty database at the latest revision; refuse (SchemaBehind) a
    database whose schema is older. See store.schema."""
    from store.schema import prepare  # alembic loads only where a schema is prepared

    await prepare(engine)
