"""Benchmark: rank partners for a need (`/ptm find`): p95 ≤ 5 ms at 5,000 partners and
≤ 20 ms at 50,000 (issue 18).

    python bench/find_rank.py [--partners 5000] [--queries 300]

Measures the ranking alone (`bot.domain.capability.rank` over a prepared index) and the whole
`find_partners` use case on SQLite (load the map and the win history, build the index, rank).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import add_bench_tenant, offline_ctx
from bot.domain.capability import CapabilityIndex, Partner, rank, words
from bot.domain.model import Actor
from bot.services.common import Caller
from bot.services.partners import find_partners
from store import create_schema, make_engine

INDUSTRIES = [
    "Healthcare",
    "Life Sciences",
    "Retail",
    "Finance",
    "Insurance",
    "Manufacturing",
    "Energy",
    "Public Sector",
    "Education",
    "Media",
    "Telecom",
    "Logistics",
]
LEVELS = ["VP", "C-level", "Director", "Manager", "Board"]
COMPETENCIES = [
    "Data platform",
    "Analytics",
    "Cloud migration",
    "Security",
    "AI",
    "ERP",
    "CRM",
    "Networking",
    "DevOps",
    "Integration",
    "Payments",
    "IoT",
]
GEOS = ["US", "EU", "UK", "APAC", "LATAM", "DACH", "Nordics", "ANZ"]
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def partners(n: int) -> list[Partner]:
    rnd = random.Random(11)
    return [
        Partner(
            name=f"Partner {i:05d}",
            industries=tuple(rnd.sample(INDUSTRIES, 3)),
            buyer_levels=tuple(rnd.sample(LEVELS, 2)),
            competencies=tuple(rnd.sample(COMPETENCIES, 4)),
            geographies=tuple(rnd.sample(GEOS, 2)),
            contacts=(f"rep{i}@partner{i}.example",),
        )
        for i in range(n)
    ]


def queries(n: int) -> list[tuple[str, ...]]:
    rnd = random.Random(5)
    return [
        words(f"{rnd.choice(INDUSTRIES)} {rnd.choice(LEVELS)} {rnd.choice(COMPETENCIES)}")
        for _ in range(n)
    ]


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"


async def whole_use_case(all_partners: list[Partner], qs: list[tuple[str, ...]]) -> list[float]:
    from bot.domain.capability import write_csv
    from bot.services.partners import import_partners

    db = Path(tempfile.mkdtemp()) / "bench.db"
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await create_schema(engine)
    async with engine.begin() as conn:
        await add_bench_tenant(conn, NOW)

    ctx = offline_ctx(engine, NOW)
    await import_partners(ctx, write_csv(all_partners))
    caller = Caller(actor=Actor("U0BENCH", "T0", internal=True))
    samples = []
    for q in qs[:100]:
        started = time.perf_counter()
        await find_partners(ctx, caller, " ".join(q), deal_number=None)
        samples.append(time.perf_counter() - started)
    await engine.dispose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partners", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    all_partners, qs = partners(args.partners), queries(args.queries)
    started = time.perf_counter()
    index = CapabilityIndex.build(all_partners)
    build = time.perf_counter() - started
    samples = []
    for q in qs:
        started = time.perf_counter()
        rank(index, q)
        samples.append(time.perf_counter() - started)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{args.partners} partners, {len(qs)} three-word queries")
    print(f"index build: {build * 1000:.0f} ms (once per map change)")
    print(f"rank only:          {summary(samples)}")
    print(f"find_partners (DB): {summary(asyncio.run(whole_use_case(all_partners, qs)))}")


if __name__ == "__main__":
    main()
