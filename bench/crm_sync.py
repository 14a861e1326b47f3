"""Benchmark: CRM → card at scale, through the real connectors and use cases.

    python bench/crm_sync.py [--deals 1000] [--changed 100] [--db FILE (default: this run's own)]

Builds a SQLite data set of `--deals` deals, each linked to a Salesforce opportunity (and, in a
second data set, to a HubSpot deal), starts the local Salesforce and HubSpot stand-ins the tests
use, with every record, and changes `--changed` of them in the CRM. Then, in a fresh child
process (its peak RSS is its own), measures:

- a reconciliation pass (`bot.services.reconcile`, Salesforce connector): wall time, the time
  the stand-in spent answering (subtracted: "PTM time"), requests to the CRM, SQL statements;
- a signed HubSpot webhook batch of 100 events (`bot.app.crm_inbound`, signature check, one
  batch read, the changes applied): the same figures.

Card redraws after the changes are the card syncer's work (measured by bench/card_burst.py),
not counted here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live import machine  # noqa: E402

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
HOOK_SECRET = "hubspot-app-client-secret"


async def build(db: str, deals: int, kind: str) -> None:
    import sqlalchemy as sa

    from bench.support import BENCH_TENANT, add_bench_tenant
    from store import create_schema, make_engine
    from store.models import CrmLinkRow, DealRow

    if os.path.exists(db):
        os.remove(db)
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await create_schema(engine)
    async with engine.begin() as conn:
        await add_bench_tenant(conn, NOW)
        await conn.execute(
            sa.insert(DealRow),
            [
                dict(id=n, tenant_id=BENCH_TENANT, number=n, key=f"PTM-{n}", name=f"Deal {n}",
                     account=f"Account {n}", amount=1000 * n, currency="USD", stage="Discover",
                     status="open", cosell=[], internal_notes="", version=1, created_by="USELLER",
                     created_at=NOW, updated_by="USELLER", updated_at=NOW)
                for n in range(1, deals + 1)
            ],
        )  # fmt: skip
        await conn.execute(
            sa.insert(CrmLinkRow),
            [
                dict(tenant_id=BENCH_TENANT, deal_id=n, side="ours", company="", kind=kind,
                     record_id=record_id(kind, n), modified_at=NOW - timedelta(hours=2),
                     linked_by="USELLER", linked_at=NOW)
                for n in range(1, deals + 1)
            ],
        )  # fmt: skip
    await engine.dispose()


def record_id(kind: str, n: int) -> str:
    return f"006{n:012d}AAA" if kind == "salesforce" else str(10_000 + n)


async def child(args: argparse.Namespace) -> dict[str, Any]:
    from bench.support import offline_ctx
    from bot.adapters.crm import CrmConnectors
    from bot.app.crm_inbound import crm_inbound
    from bot.domain.crm import ConnectorConfig, CrmKind, Notification
    from bot.domain.outbox import Side
    from bot.services.crm import reconcile
    from store import make_engine
    from tests.fakes.hubspot import FakeHubSpot
    from tests.fakes.salesforce import FakeSalesforce

    statements = 0

    def count(*_a: Any) -> None:
        nonlocal statements
        statements += 1

    results: dict[str, Any] = {}
    # --- Salesforce: a reconciliation pass -------------------------------------------------
    sf = FakeSalesforce()
    await sf.start()
    for n in range(1, args.deals + 1):
        sf.add(n, f"Deal {n}", Account=f"Account {n}", Amount=1000.0 * n,
               StageName="Needs Analysis")  # fmt: skip
    engine = make_engine(f"sqlite+aiosqlite:///{args.db}")
    sa_listen(engine, count)
    ctx = offline_ctx(engine, NOW)
    connectors = CrmConnectors(
        {
            Side.OURS: ConnectorConfig(
                CrmKind.SALESFORCE, sf.url, sf.client_secret, client_id=sf.client_id
            )
        }  # fmt: skip
    )
    await reconcile(ctx, connectors.connector)  # first pass: the mark (and token, describe)
    for n in range(1, args.changed + 1):
        sf.change(record_id("salesforce", n * (args.deals // args.changed)), Amount=5.0 * n)
    calls, statements = len(sf.calls), 0
    sf.spent.clear()
    start = time.perf_counter()
    report = await reconcile(ctx, connectors.connector)
    wall = time.perf_counter() - start
    results["reconcile"] = dict(
        wall=wall, crm=sum(sf.spent), requests=len(sf.calls) - calls, statements=statements,
        changed=len(report.changed), seen=report.seen,
    )  # fmt: skip
    await connectors.aclose()
    await sf.stop()
    await engine.dispose()

    # --- HubSpot: a signed batch of 100 events ---------------------------------------------
    await build(args.db + ".hs", args.deals, "hubspot")
    hs = FakeHubSpot()
    await hs.start()
    for n in range(1, args.deals + 1):
        hs.add(10_000 + n, f"Deal {n}", amount=str(1000 * n), dealstage="qualifiedtobuy")
    engine = make_engine(f"sqlite+aiosqlite:///{args.db}.hs")
    sa_listen(engine, count)
    ctx = offline_ctx(engine, NOW)
    connectors = CrmConnectors(
        {
            Side.OURS: ConnectorConfig(
                CrmKind.HUBSPOT, hs.url, hs.token, webhook_secret=HOOK_SECRET
            )
        }  # fmt: skip
    )

    class Deps:  # what crm_inbound uses of a tenant's deps
        def __init__(self) -> None:
            self.ctx, self.crm = ctx, connectors
            self.cards = self

        async def sync(self, _deal_id: int) -> None:
            return None

    deps = Deps()

    async def candidates(_kind: CrmKind, _ids: list[str]) -> list[Any]:
        return [deps]

    receive = crm_inbound(candidates)  # type: ignore[arg-type]
    events = []
    for n in range(1, 101):
        deal = str(10_000 + n * (args.deals // 100))
        hs.change(deal, amount=str(7 * n))
        events.append(hs.event(deal))
    from bot.adapters.crm.hubspot import sign_v3

    body = json.dumps(events)
    stamp = str(int(NOW.timestamp() * 1000))
    uri = "https://ptm.example.com/crm/hubspot"
    headers = {"X-HubSpot-Signature-v3": sign_v3(HOOK_SECRET, method="POST", uri=uri,
                                                   body=body, timestamp=stamp),
               "X-HubSpot-Request-Timestamp": stamp}  # fmt: skip
    calls, statements = len(hs.calls), 0
    hs.spent.clear()
    start = time.perf_counter()
    status = await receive(Notification("hubspot", body.encode(), headers, "POST", uri))
    wall = time.perf_counter() - start
    async with engine.connect() as conn:
        import sqlalchemy as sa

        applied = (
            await conn.execute(sa.text("SELECT count(*) FROM deals WHERE version = 2"))
        ).scalar()
    results["hubspot_batch"] = dict(
        wall=wall, crm=sum(hs.spent), requests=len(hs.calls) - calls, statements=statements,
        status=status, applied=applied,
    )  # fmt: skip
    await connectors.aclose()
    await hs.stop()
    await engine.dispose()
    from bench.support import peak_rss_mb

    results["peak_rss_mb"] = peak_rss_mb()
    return results


def sa_listen(engine: Any, count: Any) -> None:
    import sqlalchemy as sa

    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--db", default=f"/tmp/ptm-bench-crm-{os.getpid()}.db")
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args))))
        return
    asyncio.run(build(args.db, args.deals, "salesforce"))
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--child", "--deals", str(args.deals), "--changed",
         str(args.changed), "--db", args.db],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout  # fmt: skip
    found = json.loads(out.strip().splitlines()[-1])
    print(f"machine: {machine()}")
    for name in ("reconcile", "hubspot_batch"):
        r = found[name]
        print(
            f"{name}: wall {r['wall'] * 1000:.0f} ms, CRM stand-in {r['crm'] * 1000:.0f} ms, "
            f"PTM {(r['wall'] - r['crm']) * 1000:.0f} ms, {r['requests']} requests to the CRM, "
            f"{r['statements']} SQL statements, "
            + ", ".join(
                f"{k} {v}"
                for k, v in r.items()
                if k not in ("wall", "crm", "requests", "statements")
            )
        )
    print(f"child peak RSS: {found['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
