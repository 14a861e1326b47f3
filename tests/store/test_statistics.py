"""SQLite's planner statistics, as PTM's housekeeping refreshes them: with a handful of tenants,
a tenant's deals are read through their own indexes, not through `tenant_id`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.services import batches
from store import create_schema, make_engine
from store.models import DealEventRow, DealRow, TrioMemberRow
from tests.support.databases import tenant_uows

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
DEALS = 600  # more rows than the sample ANALYZE reads per index (400)


async def test_the_tenant_index_is_not_taken_for_a_selective_one(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}")
    await create_schema(engine)
    uows = await tenant_uows(engine)
    tenant = uows.tenant_id
    everyone = range(1, DEALS + 1)
    deals = [
        {
            "tenant_id": tenant, "id": d, "number": d, "key": f"PTM-{d}", "name": f"Deal {d}",
            "account": "", "currency": "USD", "stage": "Qualify", "status": "open", "version": 3,
            "created_by": "US", "created_at": NOW, "updated_by": "US", "updated_at": NOW,
        }
        for d in everyone
    ]  # fmt: skip
    seller = {d: f"US{d % 50}" for d in everyone}
    members = [
        {"tenant_id": tenant, "deal_id": d, "role": "seller", "user_id": seller[d],
         "is_external": False}
        for d in everyone
    ]  # fmt: skip
    events = [
        {
            "tenant_id": tenant, "deal_id": d, "version": v, "actor": seller[d],
            "actor_team": "T0URS", "changes": {}, "source": "command",
            "at": NOW - timedelta(days=v),
        }
        for d in everyone
        for v in (1, 2, 3)
    ]  # fmt: skip
    async with engine.begin() as conn:
        for table, rows in ((DealRow, deals), (TrioMemberRow, members), (DealEventRow, events)):
            await conn.execute(sa.insert(table), rows)
    await batches.refresh_statistics(uows)
    async with engine.connect() as conn:
        stat = await conn.scalar(
            sa.text("SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_deal_events_tenant_id'")
        )
        # Every event is the one tenant's: the statistics say so (a sample said ~400 per value).
        assert stat == f"{len(events)} {len(events)}"
        ids = ", ".join(str(d) for d in range(1, 201))
        plan = await conn.execute(
            sa.text(
                "EXPLAIN QUERY PLAN SELECT DISTINCT e.deal_id, date(e.at) FROM deal_events e "
                "JOIN trio_members t ON t.deal_id = e.deal_id AND t.role = 'seller' AND "
                f"t.user_id = e.actor AND t.tenant_id = :t WHERE e.deal_id IN ({ids}) "
                "AND e.tenant_id = :t"
            ),
            {"t": tenant},
        )
        steps = " | ".join(str(row[3]) for row in plan.all())
    await engine.dispose()
    assert "ix_deal_events_deal_actor_at" in steps and "tenant_id" not in steps, steps
