"""Benchmark: compose daily digests for 10,000 users over 50,000 deals.

    python bench/digest_compose.py [--users 10000] [--deals 50000]
                                   [--db FILE (default: this run's own)]

Builds the data set once (SQLite file), then, in a fresh child process so its peak memory is
the composition's own, composes every user's digest with the production code
(`bot.services.compose_many`) and reports wall time, peak RSS and the number of SQL queries,
for all users and for a tenth of them (the query count must not grow with users).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.support import BENCH_TENANT, add_bench_tenant, offline_ctx, peak_rss_mb  # noqa: E402
from bot.app import heap  # noqa: E402
from bot.services import batches  # noqa: E402
from bot.services.digests import DIGEST_BATCH, compose_batches  # noqa: E402
from store import create_schema, make_engine  # noqa: E402
from store.models import DealEventRow, DealRow, NextStepRow, TrioMemberRow  # noqa: E402

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
STAGES = ["Qualify", "Discover", "Validate", "Propose", "Negotiate"]


async def build(db: str, users: int, deals: int) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await create_schema(engine)
    rnd = random.Random(7)
    internal = [f"U{i:07d}" for i in range(users)]
    deal_rows, members, steps, events = [], [], [], []
    for d in range(1, deals + 1):
        seller, ally = rnd.choice(internal), rnd.choice(internal)
        updated = NOW - timedelta(days=rnd.randint(0, 20))
        deal_rows.append(
            dict(
                id=d,
                tenant_id=BENCH_TENANT,
                number=d,
                key=f"PTM-{d}",
                name=f"Deal {d} for Account {d % 977}",
                account=f"Account {d % 977}",
                currency="USD",
                stage=rnd.choice(STAGES),
                status="open" if rnd.random() < 0.9 else "won",
                cosell=[],
                internal_notes="",
                version=3,
                created_by=seller,
                created_at=updated,
                updated_by=seller,
                updated_at=updated,
            )
        )
        for role, user, ext in (
            ("seller", seller, False),
            ("alliance", ally, False),
            ("partner", f"UP{d:07d}", True),
        ):
            members.append(
                dict(
                    tenant_id=BENCH_TENANT,
                    deal_id=d,
                    role=role,
                    user_id=user,
                    is_external=ext,
                    synced_version=rnd.randint(0, 3),
                    last_acted_at=NOW - timedelta(days=rnd.randint(0, 60)),
                )
            )
        owner = rnd.choice([seller, ally, f"UP{d:07d}"])
        steps.append(
            dict(
                tenant_id=BENCH_TENANT,
                deal_id=d,
                text=f"Follow up on item {d}",
                owner_role="seller",
                owner_user=owner,
                due=(NOW + timedelta(days=rnd.randint(-5, 10))).date(),
                status="open",
                set_by=seller,
                set_at=updated,
            )
        )
        for v in (2, 3):
            events.append(
                dict(
                    tenant_id=BENCH_TENANT,
                    deal_id=d,
                    version=v,
                    actor=rnd.choice([seller, ally]),
                    actor_team="T0URS",
                    changes={"stage": ["Qualify", "Discover"]},
                    source="command",
                    at=NOW - timedelta(hours=rnd.randint(1, 48)),
                )
            )
    async with engine.begin() as conn:
        await add_bench_tenant(conn, NOW)
        for table, rows in (
            (DealRow, deal_rows),
            (TrioMemberRow, members),
            (NextStepRow, steps),
            (DealEventRow, events),
        ):
            for i in range(0, len(rows), 5000):
                await conn.execute(sa.insert(table), rows[i : i + 5000])
    await engine.dispose()


async def measure(db: str, users: int, fraction: float, batch: int) -> dict[str, float]:
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    queries = 0

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(*_args: object) -> None:
        nonlocal queries
        queries += 1

    ctx = offline_ctx(engine, NOW)
    # As a PTM process's housekeeping does at start and hourly (bot.app.scheduling).
    await batches.refresh_statistics(ctx.uow)
    queries = 0  # the composition's own
    heap.settle()  # as a PTM process does once it has started (bot.app.heap)
    chosen = [f"U{i:07d}" for i in range(int(users * fraction))]
    runs = [(u, date(2026, 11, 24)) for u in chosen]
    started, cpu = time.perf_counter(), time.process_time()
    non_empty = items = 0
    # As the sender does: a batch composed, used (here: counted), let go, then the next.
    with heap.fewer_collections():  # as the digest job does (bot.app.scheduling)
        async for _batch, views in compose_batches(ctx, runs, size=batch):
            non_empty += sum(not v.is_empty for v in views.values())
            items += sum(
                len(v.mine) + len(v.waiting) + len(v.changes) + len(v.stale) for v in views.values()
            )
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu  # this process's CPU (SQLite's thread included)
    await engine.dispose()
    return {
        "users": len(runs),
        "batch": batch,
        "seconds": round(elapsed, 3),
        "cpu_seconds": round(cpu, 3),
        "queries": queries,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "non_empty_digests": non_empty,
        "digest_items": items,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--db", default=f"/tmp/ptm-bench-digest-{os.getpid()}.db")
    parser.add_argument("--measure", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=DIGEST_BATCH, help="people per composition")
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(asyncio.run(measure(args.db, args.users, args.measure, args.batch))))  # noqa: T201
        return
    for suffix in ("", "-wal", "-shm"):
        Path(args.db + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(build(args.db, args.users, args.deals))
    print(f"built {args.deals} deals / {args.users} users in {time.perf_counter() - started:.1f}s")  # noqa: T201
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "  # noqa: T201
        f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}"
    )
    for fraction in (0.1, 1.0):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--users",
                str(args.users),
                "--db",
                args.db,
                "--measure",
                str(fraction),
                "--batch",
                str(args.batch),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        print(out.stdout.strip())  # noqa: T201


if __name__ == "__main__":
    main()
