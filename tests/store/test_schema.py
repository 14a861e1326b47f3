"""The schema is versioned: new databases start at the latest revision, old ones are upgraded by
`ptm db upgrade` without losing anything, and the bot will not run on a schema that is behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store import create_schema, make_engine, schema
from store.schema import SchemaBehind
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import run_ptm
from tests.support.harness import start_bot


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


async def differences(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as conn:
        return await conn.run_sync(schema.compare_with_models)


async def test_migrations_and_a_new_database_build_the_same_schema(
    engine: AsyncEngine, db_url: str
) -> None:
    done = await schema.upgrade(engine)
    assert (done.before, done.after) == (None, schema.head())
    assert await differences(engine) == []
    # A new database is created from the models and stamped at the latest revision.
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: sa.MetaData().reflect(sync) or None)
        tables = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        for table in tables:
            await conn.execute(
                sa.text(
                    f'DROP TABLE "{table}" CASCADE'
                    if "postgresql" in db_url
                    else f'DROP TABLE "{table}"'
                )
            )
    await create_schema(engine)
    assert await schema.current_revision(engine) == schema.head()
    assert await differences(engine) == []


OLD_ROWS = [
    """INSERT INTO deals (id, key, name, account, amount, currency, stage, status, attribution,
       partner, cosell, internal_notes, trigger_reason, version, created_by, created_at,
       updated_by, updated_at) VALUES
       (1, 'PTM-1', 'Acme', 'Acme Corp', 1200.50, 'EUR', 'Closed Won', 'won', 'co-sell',
        'MedData', '["trigger","match"]', 'secret', 'needs EU hosting', 4, 'US',
        '2026-05-01 09:00:00', 'UA', '2026-06-20 10:00:00'),
       (2, 'PTM-2', 'Globex', '', NULL, 'USD', 'Validate', 'open', NULL, NULL, '[]', '', '', 2,
        'US', '2026-05-02 09:00:00', 'US', '2026-05-03 09:00:00')""",
    """INSERT INTO trio_members (deal_id, role, user_id, team_id, is_external, synced_version)
       VALUES (1, 'seller', 'US', 'T0URS', false, 3), (1, 'partner', 'UP', 'TP', true, 2),
              (2, 'seller', 'US', 'T0URS', false, 2)""",
    """INSERT INTO deal_events (deal_id, version, actor, changes, source, at) VALUES
       (1, 3, 'UA', '{"stage": ["Negotiate", "Closed Won"], "status": ["open", "won"]}',
        'button', '2026-06-15 16:30:00'),
       (1, 4, 'UA', '{"attribution": [null, "co-sell"]}', 'command', '2026-06-20 10:00:00'),
       (2, 2, 'US', '{"stage": ["Qualify", "Validate"]}', 'command', '2026-05-03 09:00:00')""",
    """INSERT INTO outcomes (deal_id, text, result, logged_by, logged_at) VALUES
       (1, 'joint call', 'POC', 'UA', '2026-06-01 12:00:00')""",
]


async def old_database(engine: AsyncEngine) -> None:
    """A database as PTM made it before migrations: the baseline tables, no version, data."""
    await schema.upgrade(engine, schema.BASELINE)
    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE alembic_version"))
        for statement in OLD_ROWS:
            await conn.execute(sa.text(statement))


async def test_an_old_database_is_refused_then_upgraded_without_loss(
    engine: AsyncEngine, db_url: str, fake_slack: FakeSlack
) -> None:
    await old_database(engine)
    with pytest.raises(
        SchemaBehind,
        match=f"at 0001_baseline, this PTM needs {schema.head()}: run `ptm db upgrade`",
    ):
        await create_schema(engine)

    # The real bot process refuses to start, in one line that says what to run.
    code, out, err = await run_ptm(fake_slack, db_url, "serve")
    assert code == 2 and err.count("\n") == 1 and "run `ptm db upgrade`" in err, err
    code, out, _ = await run_ptm(fake_slack, db_url, "db", "status")
    assert code == 1 and f"schema 0001_baseline, latest {schema.head()}: behind" in out

    code, out, err = await run_ptm(fake_slack, db_url, "db", "upgrade")
    assert code == 0, err
    assert f"database schema upgraded: 0001_baseline → {schema.head()}" in out
    code, out, _ = await run_ptm(fake_slack, db_url, "db", "upgrade")
    assert f"already at {schema.head()}" in out
    assert await differences(engine) == []

    async with engine.connect() as conn:
        deals = (
            await conn.execute(
                sa.text(
                    "SELECT key, name, amount, internal_notes, trigger_reason, version, "
                    "close_reason "
                    "FROM deals ORDER BY id"
                )
            )
        ).all()
        counts = [
            (await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar()
            for t in ("trio_members", "deal_events", "outcomes")
        ]
    shown = [(*d[:2], None if d[2] is None else float(d[2]), *d[3:]) for d in deals]
    assert shown == [
        ("PTM-1", "Acme", 1200.5, "secret", "needs EU hosting", 4, ""),
        ("PTM-2", "Globex", None, "", "", 2, ""),
    ]
    assert counts == [3, 3, 1]

    # The upgraded database runs: the won deal's close time is that of its status change.
    bot = await start_bot(fake_slack, db_url)
    try:
        from datetime import UTC, date, datetime

        from bot.domain.periods import Period

        async with bot.runtime.deps.ctx.uow.reads() as uow:
            period = Period(date(2026, 6, 1), date(2026, 6, 30))
            facts = await uow.metrics.facts(
                scope_user=None, period=period, horizon=period, quarter=period
            )
        won = next(f for f in facts.deals if f.key == "PTM-1")
        assert won.closed_at == datetime(2026, 6, 15, 16, 30, tzinfo=UTC)
        _, body = await bot.slack.command("list", user="US")
        assert "PTM-2" in str(body)
        # A one-partner deal is unchanged: its partner rep is its one partner company (no role
        # on the deal named yet), synced as before, on its card.
        trio = await bot.rows(
            "SELECT deal_id, role, user_id, team_id, is_external, synced_version, partner_kind "
            "FROM trio_members ORDER BY deal_id, role"
        )
        assert [(*r[:4], bool(r[4]), *r[5:]) for r in trio] == [
            (1, "partner", "UP", "TP", True, 2, None),
            (1, "seller", "US", "T0URS", False, 3, None),
            (2, "seller", "US", "T0URS", False, 2, None),
        ]
        await bot.slack.command("card PTM-1", user="US", channel="CROOM")
        [(channel, ts)] = bot.posted_cards()
        assert "<@UP>" in str(bot.card(channel, ts)["blocks"])
    finally:
        await bot.stop()


async def test_processes_starting_together_create_the_schema_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(3)]
    try:
        await asyncio.gather(*(create_schema(e) for e in engines))
        assert await schema.current_revision(engines[0]) == schema.head()
        async with engines[0].connect() as conn:
            versions = (
                await conn.execute(sa.text("SELECT count(*) FROM alembic_version"))
            ).scalar()
        assert versions == 1
    finally:
        for e in engines:
            await e.dispose()


ROWS_AT_0004 = [
    *OLD_ROWS,
    """INSERT INTO next_steps (deal_id, text, owner_role, owner_user, due, status, set_by,
       set_at) VALUES (2, 'send the pricing', 'seller', 'US', '2026-12-01', 'open', 'UA',
       '2026-05-03 09:00:00')""",
    """INSERT INTO channel_bindings (channel_id, deal_id, bound_by, bound_at) VALUES
       ('CROOM', 2, 'US', '2026-05-02 09:00:00')""",
    """INSERT INTO channels (channel_id, is_ext_shared, checked_at) VALUES
       ('CROOM', false, '2026-05-02 09:00:00')""",
    """INSERT INTO card_copies (deal_id, channel_id, ts, is_shared, rendered_version, posted_by,
       posted_at) VALUES (2, 'CROOM', '1700000000.000009', false, 2, 'US',
       '2026-05-02 09:00:00')""",
    """INSERT INTO room_activity (deal_id, user_id, day, first_at, last_at) VALUES
       (2, 'US', '2026-05-03', '2026-05-03 08:00:00', '2026-05-03 09:00:00')""",
    """INSERT INTO processed_events (event_id, received_at, payload, done) VALUES
       ('msg:CROOM:1.1', '2026-05-03 09:00:00', NULL, true)""",
    """INSERT INTO user_prefs (user_id, tz, digests_paused) VALUES ('US', 'Europe/Paris', false)""",
    """INSERT INTO digest_runs (user_id, day, status, created_at) VALUES
       ('US', '2026-05-03', 'sent', '2026-05-03 07:00:00')""",
    """INSERT INTO nudge_runs (deal_id, day, user_id, created_at) VALUES
       (2, '2026-05-03', 'UP', '2026-05-03 07:00:00')""",
    """INSERT INTO partners (name_key, name, industries, buyer_levels, competencies,
       geographies, contacts, updated_at) VALUES ('meddata', 'MedData', '["healthcare"]',
       '["vp"]', '["data"]', '["emea"]', '[]', '2026-05-01 09:00:00')""",
    """INSERT INTO crm_outbox (outcome_id, deal_id, side, idempotency_key, body, status,
       attempts, next_attempt_at) VALUES (1, 1, 'ours', 'ptm-outcome-1-ours', '{}',
       'delivered', 1, '2026-06-01 12:00:00')""",
]


async def test_a_single_workspace_database_becomes_one_tenant_without_loss(
    engine: AsyncEngine, db_url: str, fake_slack: FakeSlack
) -> None:
    """A database as the single-workspace PTM left it (every table filled) is upgraded and
    given to its workspace; every row is that workspace's and the bot carries on with it."""
    await schema.upgrade(engine, "0004_mention_inbox")
    async with engine.begin() as conn:
        for statement in ROWS_AT_0004:
            await conn.execute(sa.text(statement))
    code, out, err = await run_ptm(fake_slack, db_url, "db", "upgrade", "--team-id", "T0URS")
    assert code == 0, err
    assert f"0004_mention_inbox → {schema.head()}" in out
    assert "the existing data now belongs to workspace T0URS" in out
    assert await differences(engine) == []
    tables = [
        "deals", "trio_members", "next_steps", "channel_bindings", "channels", "card_copies",
        "deal_events", "room_activity", "processed_events", "user_prefs", "digest_runs",
        "nudge_runs", "partners", "outcomes", "crm_outbox",
    ]  # fmt: skip
    async with engine.connect() as conn:
        tenants = (await conn.execute(sa.text("SELECT id, team_id FROM tenants"))).all()
        owners = {
            t: (await conn.execute(sa.text(f"SELECT DISTINCT tenant_id FROM {t}"))).scalars().all()
            for t in tables
        }
        keys = (await conn.execute(sa.text("SELECT number, key FROM deals ORDER BY id"))).all()
    assert tenants == [(1, "T0URS")]
    assert owners == {t: [1] for t in tables}
    assert keys == [(1, "PTM-1"), (2, "PTM-2")]

    bot = await start_bot(fake_slack, db_url)
    try:
        _, listed = await bot.slack.command("list", user="US")
        assert "PTM-2" in str(listed)
        # The deal room still names its deal; its card copy is updated in place.
        _, moved = await bot.slack.command("stage propose", user="US", channel="CROOM")
        assert "PTM-2 moved to *Propose*" in str(moved)
        await bot.runtime.deps.cards.idle()
        assert [u["ts"] for u in bot.fake.of("chat.update")] == ["1700000000.000009"]
        _, found = await bot.slack.command("find healthcare data", user="US", channel="CROOM")
        assert "MedData" in str(found)
        # Numbering carries on after the workspace's existing deals.
        _, made = await bot.slack.command("new Initech", user="US", channel="CNEW")
        assert "Created PTM-3" in str(made)
    finally:
        await bot.stop()


async def test_the_hourly_housekeeping_keeps_sqlites_planner_statistics(
    fake_slack: FakeSlack, db_url: str
) -> None:
    """Without statistics SQLite may read a table once per row of another (`/ptm metrics` over
    50,000 deals: over a minute, against 1.2 s analysed); housekeeping (at start, then hourly)
    analyses the database. PostgreSQL analyses by itself: nothing to do there."""
    bot = await start_bot(fake_slack, db_url)
    try:
        for n in range(3):
            await bot.slack.command(f"new Deal {n}", user="US")
        sqlite = db_url.startswith("sqlite")
        if sqlite:
            await bot.write("DELETE FROM sqlite_stat1")  # as a database never analysed
        await bot.background._housekeeping()
        if sqlite:
            [(rows,)] = await bot.rows("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'deals'")
            assert rows > 0
    finally:
        await bot.stop()
