"""The schema's version: create a new database at the latest revision, upgrade an old one with
`ptm db upgrade`, and refuse to run on a database whose schema is behind.

Several processes may start at once (behind a load balancer): on PostgreSQL an advisory lock
makes one of them create or upgrade the schema while the others wait; on SQLite the first
write transaction (BEGIN IMMEDIATE) does the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

import store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

# Alembic narrates every start-up at INFO ("Context impl …"); PTM says what matters itself.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The revision a database made by PTM before migrations existed is at (tables, no version).
BASELINE = "0001_baseline"
# pg_advisory_lock key: "PTM schema".
SCHEMA_LOCK = 0x50544D5343


class SchemaBehind(Exception):
    """The database's schema is older (or newer) than this PTM; the message says what to run."""


@dataclass(frozen=True)
class Upgrade:
    before: str | None  # None: the database was empty
    after: str


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def _current(sync: sa.Connection) -> str | None:
    """The database's revision; BASELINE for PTM tables without a version; None when empty."""
    revision = MigrationContext.configure(sync).get_current_revision()
    has_tables = sa.inspect(sync).has_table("deals")
    if revision is None and has_tables:
        return BASELINE
    # A version stamp without tables (they were dropped by hand) is an empty database.
    return revision if has_tables else None


def _upgrade(sync: sa.Connection, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync
    if MigrationContext.configure(sync).get_current_revision() is None:
        if sa.inspect(sync).has_table("deals"):
            command.stamp(config, BASELINE)
    command.upgrade(config, target)


def _create_new(sync: sa.Connection) -> None:
    """A new database gets the models' tables at once, stamped with the latest revision (a
    test checks that the migrations build exactly the same schema)."""
    SQLModel.metadata.create_all(sync)
    config = alembic_config()
    config.attributes["connection"] = sync
    command.stamp(config, "head")


async def _locked(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


async def prepare(engine: AsyncEngine) -> None:
    """At start-up: create the schema of an empty database; refuse one that is not at head."""
    async with engine.begin() as conn:
        await _locked(conn)
        current = await conn.run_sync(_current)
        if current is None:
            await conn.run_sync(_create_new)
            return
    latest = head()
    if current != latest:
        if current in _known():
            raise SchemaBehind(
                f"the database schema is at {current}, this PTM needs {latest}: "
                "run `ptm db upgrade` (back up the database first)"
            )
        raise SchemaBehind(
            f"the database schema is at {current}, which this PTM does not know "
            f"(its latest is {latest}): run a newer PTM"
        )


async def upgrade(engine: AsyncEngine, target: str = "head") -> Upgrade:
    """`ptm db upgrade`: apply every missing migration in one transaction.

    On SQLite, a migration that rebuilds a table others refer to (batch mode copies it, drops
    it and renames the copy) needs foreign keys off while it runs — SQLite's own procedure for
    schema changes; they are checked before the commit and switched on again after."""
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await conn.run_sync(_sqlite_foreign_keys, False)
        try:
            async with conn.begin():
                await _locked(conn)
                before = await conn.run_sync(_current)
                await conn.run_sync(_upgrade, target)
                if sqlite:
                    broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"the upgrade would break references: {broken[:5]}")
                after = await conn.run_sync(_current)
        finally:
            if sqlite:
                await conn.run_sync(_sqlite_foreign_keys, True)
    assert after is not None
    return Upgrade(before, after)


def _sqlite_foreign_keys(sync: sa.Connection, on: bool) -> None:
    """Outside any transaction (inside one SQLite ignores it), on the driver's connection."""
    cursor = sync.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def _known() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def compare_with_models(sync: sa.Connection) -> list[Any]:
    """Differences between the database and the models (empty when they match)."""
    from alembic.autogenerate import compare_metadata

    return list(compare_metadata(MigrationContext.configure(sync), SQLModel.metadata))
