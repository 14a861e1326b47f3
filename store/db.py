"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg); schema creation."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

import store.models  # noqa: F401  (registers every table)
from store.tenancy import TENANTS_KEY, scope_sessions
from store.tenant_models import TenantOwned, owned_tables

# Execution option for a transaction that only reads (see `read_only`).
READ_ONLY = "ptm_read_only"
# A pooled PostgreSQL connection used within this many seconds is trusted as it is; one idle
# for longer is pinged before use (see `_ping_idle_connections`). Under load every connection
# comes back within milliseconds, so none is pinged; when quiet, all are.
PING_IDLE_AFTER = 1.0
_IDLE_SINCE = "ptm_idle_since"
# SQLite: how long a writer waits for its turn in this process (as SQLite's busy timeout).
WRITER_WAIT = 30.0
_WRITER_TURN = "ptm_writer_turn"


async def read_only(session: AsyncSession) -> None:
    """Make the session's coming work read-only (no effect once a transaction has begun).

    SQLite: a plain BEGIN, which takes no lock, instead of BEGIN IMMEDIATE (the write lock),
    so reads never queue behind writers (WAL). PostgreSQL: autocommit, so each query runs
    without BEGIN and ROLLBACK around it — two round trips fewer. Under READ COMMITTED every
    statement of a transaction reads its own snapshot anyway, so this sees exactly what a
    transaction would."""
    if session.in_transaction():
        return
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    else:
        await session.connection(execution_options={READ_ONLY: True})


def make_engine(
    url: str, *, pool_size: int = 20, ping_idle_after: float = PING_IDLE_AFTER
) -> AsyncEngine:
    """Create an engine; SQLite gets WAL, foreign keys and write-serialising transactions.

    On PostgreSQL a process keeps at most `pool_size` connections and a burst waits for a free
    one rather than opening more: connections opened for a burst and closed after it (an
    overflow) cost a server process each, and under steady load that churn cost more CPU
    than the waiting."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        # Day buckets (metrics) are UTC days whatever the server's own time zone is.
        connect_args={"server_settings": {"timezone": "UTC"}},
    )
    _ping_idle_connections(engine, ping_idle_after)
    return engine


def _ping_idle_connections(engine: AsyncEngine, idle_after: float) -> None:
    """Check a pooled connection before use only when it sat idle for `idle_after` seconds.

    SQLAlchemy's `pool_pre_ping` pings on every checkout, and with asyncpg a ping is three
    round trips (BEGIN, an empty query, ROLLBACK): under load, as many as the work itself. A
    connection used a moment ago is alive unless the server went away in that moment; if it
    did, the statement that finds out fails (as the requests in flight during a restart fail
    anyway), SQLAlchemy drops every pooled connection of that age, and the next one reconnects.
    Connections left idle longer (where restarts and firewalls strike unseen) are pinged, and
    replaced with the whole pool's older ones when the ping fails."""

    @event.listens_for(engine.sync_engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_after:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the reason, this connection cannot be used
            raise exc.InvalidatePoolError(f"idle connection failed its ping: {error}") from error


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

    turns = WriterTurns()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY
        # when another writer got there first; IMMEDIATE waits for the lock instead. A long
        # read-only transaction (a report) takes no lock, so writers go on meanwhile (WAL).
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        if read_only:
            conn.exec_driver_sql("BEGIN")
            return
        turns.take(conn.connection.info)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.give_back(conn.connection.info)
            raise

    @event.listens_for(engine.sync_engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            turns.give_back(record.info)

    @event.listens_for(engine.sync_engine, "invalidate")
    def on_invalidate(_dbapi_connection: Any, record: Any, _error: Any) -> None:
        if record is not None:
            turns.give_back(record.info)


class WriterTurns:
    """This process's SQLite writers, one at a time and first come, first served.

    SQLite has one writer at a time. A `BEGIN IMMEDIATE` that finds another writer busy is
    retried by SQLite's busy handler after sleeping 1 ms, then 2, then 5 more...: a command
    that arrived a millisecond after a click waited 3–8 ms for a transaction of 2–3 ms. Within
    one process the writers now wait their turn on an asyncio lock, taken when a write
    transaction begins and given back when its connection returns to the pool (after its
    COMMIT or ROLLBACK has run), so the next one starts as soon as the last one is done.
    Writers in other processes still meet through SQLite's busy handler."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    def take(self, info: dict[str, Any]) -> None:
        """Wait for this process's turn to write (from within SQLAlchemy's greenlet); a
        connection that holds it already (a second transaction before it was given back)
        keeps it."""
        if info.get(_WRITER_TURN):
            return
        try:
            await_only(asyncio.wait_for(self._lock.acquire(), WRITER_WAIT))
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: no turn to write within {WRITER_WAIT:.0f} s"
            ) from None
        info[_WRITER_TURN] = True

    def give_back(self, info: dict[str, Any]) -> None:
        if info.pop(_WRITER_TURN, False):
            self._lock.release()


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


def one_tenant_on_postgres(session: AsyncSession) -> int | None:
    """The session's tenant when it is on PostgreSQL and for exactly one tenant: then several
    writes may go as one statement of data-modifying CTEs, which name the tenant themselves
    (the ORM's tenant criteria reach a top-level statement, not DML inside a CTE)."""
    if session.bind.dialect.name != "postgresql":  # type: ignore[union-attr]
        return None
    tenants = session.info.get(TENANTS_KEY)
    if tenants is None or len(tenants) != 1:
        return None
    return int(next(iter(tenants)))


class ScopedSession(Session):
    """PTM's sessions: every statement scoped to a tenant (`store.tenancy`)."""


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    scope_sessions(ScopedSession, TenantOwned, owned_tables())
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=ScopedSession)


async def create_schema(engine: AsyncEngine) -> None:
    """Create the schema of an empty database at the latest revision; refuse (SchemaBehind) a
    database whose schema is older. See store.schema."""
    from store.schema import prepare  # alembic loads only where a schema is prepared

    await prepare(engine)
