"""Benchmark: background work over 1,000 installed tenants with 50 deals each.

    python bench/tenants_background.py [--tenants 1000] [--deals 50]
                                       [--db FILE (default: this run's own)]

Builds a many-workspace SQLite database (tenants, their encrypted bot tokens, deals, trios, next
steps, card copies, time zones, one CRM connector and one due outcome each), starts a fake Slack
and a fake CRM, then, in a fresh child process running PTM's own runtime (`build_runtime`, the
production gates and jobs of `bot.app.scheduling`), measures four passes: idle ticks of every
job (nobody due), a digest run when everyone is due, an outbox pass delivering one outcome per
tenant, and a card resync pass with one stale card per tenant. For each: wall time, SQL
statements (a SQLAlchemy listener), and the child's peak RSS at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.live import fake_slack, machine  # noqa: E402
from bench.support import peak_rss_mb  # noqa: E402

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 06:00 UTC: nobody's digest (8:00 UTC) is due
KEY = "mZ4mZbq0b9qXn0jvJ3m1b2u4Y2x7l5V1dGx0cWJ0bmE="  # a fixed Fernet key for the data set
TS = "1700000000.000100"


async def build(db: str, tenants: int, deals: int, crm_url: str) -> None:
    from bot.adapters.secrets import SecretBox
    from bot.domain.outbox import Side
    from store import create_schema, make_engine
    from store.installations import BOTS
    from store.models import (
        CardCopyRow,
        ChannelBindingRow,
        DealRow,
        NextStepRow,
        OutboxRow,
        OutcomeRow,
        TrioMemberRow,
        UserPrefRow,
    )
    from store.tenant_models import CrmConnectorRow, TenantRow

    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await create_schema(engine)
    box = SecretBox([KEY])
    sealed_secret = box.seal("bench-webhook-secret-0123")
    rows: dict[Any, list[dict[str, Any]]] = {
        t: []
        for t in (
            TenantRow,
            BOTS,
            DealRow,
            TrioMemberRow,
            NextStepRow,
            CardCopyRow,
            ChannelBindingRow,
            UserPrefRow,
            CrmConnectorRow,
            OutcomeRow,
            OutboxRow,
        )
    }
    deal_id = 0
    for t in range(1, tenants + 1):
        team = f"T{t:05d}"
        rows[TenantRow].append(
            dict(id=t, team_id=team, name=f"Co {t}", next_deal_number=deals + 1, created_at=NOW)
        )
        rows[BOTS].append(
            dict(
                client_id="1111.2222",
                app_id="APTM",
                team_id=team,
                team_name=f"Co {t}",
                bot_token=box.seal(f"xoxb-{team}"),
                bot_id=f"B{t}",
                bot_user_id=f"UB{t}",
                bot_scopes="chat:write",
                is_enterprise_install=False,
                installed_at=NOW.replace(tzinfo=None),
            )
        )
        people = [f"U{t}S{k}" for k in range(5)] + [f"U{t}A{k}" for k in range(2)]
        for user in people:
            rows[UserPrefRow].append(
                dict(tenant_id=t, user_id=user, tz="UTC", tz_checked_at=NOW, digests_paused=False)
            )
        for n in range(1, deals + 1):
            deal_id += 1
            seller, ally, rep = people[n % 5], people[5 + n % 2], f"U{t}P{n}"
            rows[DealRow].append(
                dict(
                    id=deal_id,
                    tenant_id=t,
                    number=n,
                    key=f"PTM-{n}",
                    name=f"Deal {n}",
                    account=f"Account {n}",
                    currency="USD",
                    stage="Discover",
                    status="open",
                    cosell=[],
                    internal_notes="",
                    version=3,
                    created_by=seller,
                    created_at=NOW - timedelta(days=3),
                    updated_by=seller,
                    updated_at=NOW - timedelta(days=1),
                )
            )
            for role, user, external in (
                ("seller", seller, False),
                ("alliance", ally, False),
                ("partner", rep, True),
            ):
                rows[TrioMemberRow].append(
                    dict(
                        tenant_id=t,
                        deal_id=deal_id,
                        role=role,
                        user_id=user,
                        team_id=f"TP{t}" if external else team,
                        is_external=external,
                        synced_version=3,
                    )
                )
            owner = (rep, "partner") if n % 10 == 0 else (seller, "seller")
            rows[NextStepRow].append(
                dict(
                    tenant_id=t,
                    deal_id=deal_id,
                    text=f"Follow up {n}",
                    owner_role=owner[1],
                    owner_user=owner[0],
                    due=date(2026, 12, 3),
                    status="open",
                    set_by=seller,
                    set_at=NOW - timedelta(days=1),
                )
            )
            channel = f"C{t}X{n}"
            # One card per tenant shows an older version: the resync pass brings it up to date.
            rendered = 2 if n == 2 else 3
            rows[CardCopyRow].append(
                dict(
                    tenant_id=t,
                    deal_id=deal_id,
                    channel_id=channel,
                    ts=TS,
                    is_shared=True,
                    rendered_version=rendered,
                    posted_by=f"UB{t}",
                    posted_at=NOW - timedelta(days=3),
                )
            )
            rows[ChannelBindingRow].append(
                dict(
                    tenant_id=t, channel_id=channel, deal_id=deal_id, bound_by=seller, bound_at=NOW
                )
            )
        rows[CrmConnectorRow].append(
            dict(
                tenant_id=t,
                side=Side.OURS.value,
                kind="webhook",
                url=crm_url,
                secret=sealed_secret,
                version=1,
                updated_by=people[0],
                updated_at=NOW,
            )
        )
        first = deal_id - deals + 1
        rows[OutcomeRow].append(
            dict(
                id=t,
                tenant_id=t,
                deal_id=first,
                text="Joint call held",
                logged_by=people[0],
                logged_at=NOW,
            )  # fmt: skip
        )
        rows[OutboxRow].append(
            dict(
                tenant_id=t,
                outcome_id=t,
                deal_id=first,
                side=Side.OURS.value,
                idempotency_key=f"key-{t}",
                body=json.dumps({"deal_key": "PTM-1", "outcome": "Joint call held"}),
                status="pending",
                attempts=0,
                next_attempt_at=NOW - timedelta(minutes=1),
            )
        )
    async with engine.begin() as conn:
        for table, values in rows.items():
            for i in range(0, len(values), 5000):
                await conn.execute(sa.insert(table), values[i : i + 5000])
    await engine.dispose()


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def measure() -> dict[str, Any]:
    """In the child: PTM's runtime over the data set (DATABASE_URL), each pass measured."""
    from sqlalchemy import event

    from bot.app import scheduling
    from bot.app.config import load_settings
    from bot.app.factory import build_runtime
    from bot.services import batches

    clock = Clock(NOW)
    runtime = await build_runtime(load_settings(os.environ), clock=clock)
    tenants = runtime.tenants
    assert tenants is not None
    statements = 0

    @event.listens_for(runtime.engine.sync_engine, "before_cursor_execute")
    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    gates = {
        "digests": scheduling.digest_gate(tenants),
        "outbox": batches.tenants_with_due_outbox,
        "card resync": batches.tenants_with_stale_cards,
        "mention recovery": batches.tenants_with_stalled_mentions,
    }
    results: dict[str, Any] = {"tenants": len([t for b in await tenants.batches() for t in b])}

    async def timed(name: str, work: Any) -> None:
        nonlocal statements
        statements = 0
        started = time.perf_counter()
        done = await work()
        results[name] = {
            "seconds": round(time.perf_counter() - started, 3),
            "statements": statements,
            "tenants_run": done,
        }

    async def idle() -> int:
        ran = 0
        for gate in gates.values():
            ran += len(await tenants.each(gate))
        return ran

    # Nobody due yet (06:00, digests at 08:00) — but the outbox and one card per tenant are
    # waiting: those two are run for real below; the idle tick counts the digest and mention
    # gates (and, separately, what every gate costs).
    async def idle_digests_and_mentions() -> int:
        return len(await tenants.each(gates["digests"])) + len(
            await tenants.each(gates["mention recovery"])
        )

    await timed("idle tick (digest + mention gates)", idle_digests_and_mentions)

    async def outbox() -> int:
        return await scheduling.for_tenants(tenants, scheduling.deliver_outbox, gates["outbox"])

    async def resync() -> int:
        async def job(deps: Any) -> None:
            await scheduling.resync_stale_cards(deps)
            await deps.cards.idle()

        return await scheduling.for_tenants(tenants, job, gates["card resync"])

    async def digests() -> int:
        sent = 0

        async def job(deps: Any) -> None:
            nonlocal sent
            report = await scheduling.run_digests(deps)
            sent += len(report.sent)

        ran = await scheduling.for_tenants(tenants, job, gates["digests"])
        results["digests sent"] = sent
        return ran

    await timed("outbox pass (1 outcome per tenant)", outbox)
    await timed("card resync pass (1 stale card per tenant)", resync)
    await timed("idle tick (all gates, after)", idle)
    clock.at = NOW.replace(hour=8, minute=30)
    await timed("digest run (everyone due)", digests)
    await timed("idle tick (all gates, digests sent)", idle)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    await runtime.close()
    return results


async def run(args: argparse.Namespace) -> None:
    from tests.fakes.crm import FakeCrm

    for suffix in ("", "-wal", "-shm"):
        Path(args.db + suffix).unlink(missing_ok=True)
    crm = FakeCrm()
    await crm.start()
    slack = await fake_slack()
    started = time.perf_counter()
    await build(args.db, args.tenants, args.deals, crm.url("ours"))
    print(
        f"built {args.tenants} tenants x {args.deals} deals in {time.perf_counter() - started:.1f}s"
    )  # noqa: T201
    for t in range(1, args.tenants + 1):  # the stale card of each tenant exists in "Slack"
        for n in (1, 2):  # the outcome's card and the stale one exist in "Slack"
            slack.messages[(f"C{t}X{n}", TS)] = {"blocks": [], "text": ""}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PTM_", "DATABASE_"))}
    env.update(
        SLACK_CLIENT_ID="1111.2222",
        SLACK_CLIENT_SECRET="bench-client-secret",
        SLACK_SIGNING_SECRET="bench-signing-secret",
        PTM_SECRET_KEY=KEY,
        PTM_CRM_ALLOW_PRIVATE="1",
        SLACK_API_URL=slack.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{args.db}",
        PTM_LOG_LEVEL="WARNING",
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--measure", "--db", args.db, env=env,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await child.communicate()
    await slack.stop()
    await crm.stop()
    results = json.loads(out.decode().strip().splitlines()[-1])
    print(machine())  # noqa: T201
    print(json.dumps(results, indent=2))  # noqa: T201
    delivered = len(crm.delivered("ours"))
    dms = sum(1 for c in slack.calls if c.method == "chat.postMessage")
    updates = sum(1 for c in slack.calls if c.method == "chat.update")
    print(f"CRM deliveries: {delivered}, chat.postMessage: {dms}, chat.update: {updates}")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--deals", type=int, default=50)
    parser.add_argument("--db", default=f"/tmp/ptm-bench-tenants-{os.getpid()}.db")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure())))  # noqa: T201
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
