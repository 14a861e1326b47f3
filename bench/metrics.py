"""Benchmark: the four measures over 50,000 deals and 500,000 deal events.

    python bench/metrics.py [--deals 50000] [--events 500000] [--db FILE (default: this run's own)]
                            [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/ptm_bench]

Builds a data set spread over two years (SQLite file by default; with --database-url the given
database, whose tables are dropped and rebuilt), then runs the production use case
(`bot.services.measure`: facts from the store, then `bot.domain.metrics.measure`) five times
for every deal (an admin's `/ptm metrics`, `ptm report`) and five times for one seller's deals, and
reports the median and worst wall time and the SQL statements per run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.support import BENCH_TENANT, add_bench_tenant, offline_ctx, peak_rss_mb  # noqa: E402
from bot.domain.model import Actor  # noqa: E402
from bot.services import Caller, batches, measure  # noqa: E402
from store import create_schema, make_engine  # noqa: E402
from store.models import (  # noqa: E402
    DealEventRow,
    DealRow,
    OutcomeRow,
    RoomActivityRow,
    TrioMemberRow,
)
from tests.support.databases import fresh_postgres  # noqa: E402

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SPAN_DAYS = 730
SELLERS, ALLIANCE = 2_000, 300
BATCH = 5_000


async def build(url: str, deals: int, events: int) -> None:
    if url.startswith("postgresql"):
        await fresh_postgres(url)
    engine = make_engine(url)
    await create_schema(engine)
    rnd = random.Random(11)
    deal_rows, members, room, outcomes, event_rows = [], [], [], [], []
    per_deal = events // deals
    for d in range(1, deals + 1):
        seller, ally = f"US{rnd.randrange(SELLERS):05d}", f"UA{rnd.randrange(ALLIANCE):04d}"
        partner = f"UP{d:07d}"
        created = NOW - timedelta(days=rnd.uniform(0, SPAN_DAYS))
        closes = rnd.random() < 0.6
        closed = min(NOW, created + timedelta(days=rnd.uniform(10, 200))) if closes else None
        closed = closed if closed and closed < NOW else None
        status = ("won" if rnd.random() < 0.35 else "lost") if closed else "open"
        end = closed or NOW
        deal_rows.append(
            dict(
                id=d,
                number=d,
                key=f"PTM-{d}",
                name=f"Deal {d} for Account {d % 977}",
                account=f"Account {d % 977}",
                amount=Decimal(rnd.randrange(5, 500) * 1000) if rnd.random() < 0.9 else None,
                currency=rnd.choice(["USD", "USD", "USD", "EUR", "GBP"]),
                stage={"open": "Validate", "won": "Closed Won", "lost": "Closed Lost"}[status],
                status=status,
                attribution=rnd.choice([None, "sourced", "co-sell", "influenced"]),
                partner=f"Partner {d % 400}" if rnd.random() < 0.4 else None,
                trigger_reason="needs a partner" if rnd.random() < 0.5 else "",
                cosell=[],
                internal_notes="",
                version=per_deal + 1,
                closed_at=closed,
                created_by=ally,
                created_at=created,
                updated_by=ally,
                updated_at=end,
            )
        )
        for role, user, ext in (
            ("seller", seller, False),
            ("alliance", ally, False),
            ("partner", partner, True),
        ):
            members.append(dict(deal_id=d, role=role, user_id=user, is_external=ext))
        span = (end - created).total_seconds()
        for v in range(per_deal):
            event_rows.append(
                dict(
                    deal_id=d,
                    version=v + 2,
                    actor=rnd.choices([seller, ally, partner], weights=[4, 4, 2])[0],
                    actor_team="T0URS",
                    changes={"next_step": ["a", "b"]},
                    source="command",
                    at=created + timedelta(seconds=rnd.uniform(0, span)),
                )
            )
        if rnd.random() < 0.3:
            day = (created + timedelta(seconds=rnd.uniform(0, span))).date()
            first = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
            room.append(
                dict(
                    deal_id=d,
                    user_id=seller,
                    day=day,
                    first_at=first,
                    last_at=first + timedelta(hours=3),
                )
            )
        if rnd.random() < 0.2:
            outcomes.append(
                dict(
                    deal_id=d,
                    text="joint call",
                    logged_by=ally,
                    logged_at=created + timedelta(seconds=rnd.uniform(0, span)),
                )
            )
    async with engine.begin() as conn:
        await add_bench_tenant(conn, NOW)
        for table, rows in (
            (DealRow, deal_rows),
            (TrioMemberRow, members),
            (RoomActivityRow, room),
            (OutcomeRow, outcomes),
            (DealEventRow, event_rows),
        ):
            for row in rows:  # every row belongs to the data set's one tenant
                row["tenant_id"] = BENCH_TENANT
            for i in range(0, len(rows), BATCH):
                await conn.execute(sa.insert(table), rows[i : i + BATCH])
    if url.startswith("postgresql"):
        async with engine.connect() as conn:
            await conn.execute(sa.text("COMMIT"))
            await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()


async def run(url: str) -> None:
    engine = make_engine(url)
    statements = 0

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    ctx = offline_ctx(engine, NOW)
    # As a PTM process's housekeeping does at start (bot.app.scheduling): without the planner's
    # statistics SQLite reads a table once per row of another here (over a minute a run).
    await batches.refresh_statistics(ctx.uow)
    seller = Caller(Actor("US00042", "T0URS", internal=True))
    for label, caller in (("every deal", None), ("one seller's deals", seller)):
        times, counts = [], []
        for _ in range(5):
            statements = 0
            started = time.perf_counter()
            report = await measure(ctx, caller)
            times.append(time.perf_counter() - started)
            counts.append(statements)
        a, win = report.activation, report.win
        print(  # noqa: T201
            f"{label}: median {statistics.median(times) * 1000:.0f} ms, worst "
            f"{max(times) * 1000:.0f} ms, SQL statements per run {sorted(set(counts))}; "
            f"activation {a.part}/{a.whole}, win activated {win.activated.part}/"
            f"{win.activated.whole}, not {win.not_activated.part}/{win.not_activated.whole}, "
            f"operator check {len(report.operator.deals)} deals, trend points {len(report.trend)}"
        )
    await engine.dispose()
    rss = peak_rss_mb()
    print(f"peak RSS of the whole run (build included): {rss:.0f} MB")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--db", default=f"/tmp/ptm-bench-metrics-{os.getpid()}.db")
    parser.add_argument("--database-url", help="e.g. a PostgreSQL URL (its tables are rebuilt)")
    args = parser.parse_args()
    url = args.database_url or f"sqlite+aiosqlite:///{args.db}"
    if not args.database_url:
        for suffix in ("", "-wal", "-shm"):
            Path(args.db + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(build(url, args.deals, args.events))
    print(  # noqa: T201
        f"built {args.deals} deals / {args.events} events in {time.perf_counter() - started:.0f}s"
        f" on {url.split(':')[0]}"
    )
    print(  # noqa: T201
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}; "
        f"period {date(2026, 8, 27)} – {NOW.date()}"
    )
    asyncio.run(run(url))


if __name__ == "__main__":
    main()
