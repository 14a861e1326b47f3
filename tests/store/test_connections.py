"""Connections: the PostgreSQL pool pings only connections that sat idle and still survives
the server dropping them (as a restart or a firewall does); units of work that only read take
no write lock on SQLite and no transaction round trips on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from store import UowFactory, create_schema, make_engine
from tests.support.databases import tenant_uows

PG_URL = os.environ.get("PTM_TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL")
IDLE_AFTER = 0.3


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


async def drop_connection(pid: int) -> None:
    """What a server restart does to one connection, done from another one."""
    admin = create_async_engine(PG_URL)
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


@needs_postgres
async def test_a_dropped_idle_connection_is_replaced_before_use() -> None:
    engine = make_engine(PG_URL, pool_size=1, ping_idle_after=IDLE_AFTER)
    try:
        first = await backend_pid(engine)
        await asyncio.sleep(IDLE_AFTER + 0.2)
        await drop_connection(first)
        # Idle long enough to be pinged: the ping finds it dead and the query runs anyway.
        second = await backend_pid(engine)
        assert second != first
    finally:
        await engine.dispose()


@needs_postgres
async def test_a_recently_used_connection_is_not_pinged_and_the_pool_recovers() -> None:
    engine = make_engine(PG_URL, pool_size=1, ping_idle_after=60)
    try:
        first = await backend_pid(engine)
        await drop_connection(first)
        # Used moments ago, so trusted without a ping (three round trips saved on every
        # transaction): the statement that meets the dead connection fails...
        with pytest.raises(DBAPIError) as failure:
            await backend_pid(engine)
        assert failure.value.connection_invalidated
        # ...and the very next transaction gets a fresh connection.
        assert await backend_pid(engine) != first
    finally:
        await engine.dispose()


@pytest.fixture
async def factory(db_url: str) -> AsyncIterator[UowFactory]:
    engine = make_engine(db_url)
    await create_schema(engine)
    yield await tenant_uows(engine)
    await engine.dispose()


async def test_a_reading_unit_of_work_cannot_commit(factory: UowFactory) -> None:
    async with factory.reads() as uow:
        assert await uow.deals.list_for_user("USELLER") == []
        with pytest.raises(RuntimeError, match="cannot write"):
            await uow.commit()


async def test_reads_do_not_queue_behind_a_writer_on_sqlite(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    await create_schema(engine)
    factory = await tenant_uows(engine)
    writer = sqlite3.connect(sqlite_url.split("///", 1)[1], isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a change
        async with factory.reads() as uow:  # would wait for the write lock with BEGIN IMMEDIATE
            assert await asyncio.wait_for(uow.deals.list_for_user("USELLER"), 2) == []
    finally:
        writer.rollback()
        writer.close()
        await engine.dispose()


async def test_reads_on_postgresql_run_each_query_on_its_own(
    factory: UowFactory, db_url: str
) -> None:
    """No BEGIN / ROLLBACK around them (two round trips each): each query is its own
    transaction, which under READ COMMITTED reads what it would have read inside one."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    async with factory.reads() as uow:
        session = uow.deals.session
        first = (await session.execute(sa.text("SELECT now()"))).scalar_one()
        await asyncio.sleep(0.01)
        second = (await session.execute(sa.text("SELECT now()"))).scalar_one()
    assert second > first  # now() is the start of the current transaction
    async with factory() as uow:
        session = uow.deals.session
        first = (await session.execute(sa.text("SELECT now()"))).scalar_one()
        await asyncio.sleep(0.01)
        second = (await session.execute(sa.text("SELECT now()"))).scalar_one()
    assert second == first


async def test_sqlite_writers_of_one_process_take_turns_first_come_first_served(
    sqlite_url: str,
) -> None:
    """A writer that finds another one busy waits for its turn in the process, not in SQLite's
    busy handler (which sleeps 1, 2, 5 ms... between tries): it sends BEGIN IMMEDIATE only
    once the writer before it is done, and writers go in the order they came."""
    engine = make_engine(sqlite_url)
    await create_schema(engine)
    factory = await tenant_uows(engine)
    begins: list[str] = []

    def on_execute(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            begins.append(statement)

    sa.event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    order: list[str] = []

    async def writer(name: str) -> None:
        async with factory() as uow:
            await uow.digests.put_pref(name, tz="UTC")
            order.append(name)
            await uow.commit()

    try:
        async with factory() as first:
            await first.digests.put_pref("UFIRST", tz="UTC")  # holds the write lock
            waiting = []
            for name in ("UB", "UC", "UD"):
                waiting.append(asyncio.create_task(writer(name)))
                await asyncio.sleep(0.02)
            # The three wait for their turn without asking SQLite for the lock meanwhile.
            assert len(begins) == 1 and order == []
            order.append("UFIRST")
            await first.commit()
        await asyncio.wait_for(asyncio.gather(*waiting), 5)
        assert order == ["UFIRST", "UB", "UC", "UD"]
        assert len(begins) == 4
    finally:
        await engine.dispose()
