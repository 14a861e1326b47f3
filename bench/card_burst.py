"""Benchmark: 200 concurrent changes on one deal with three card copies.

    python bench/card_burst.py [--changes 200] [--database-url URL] [--processes 1] [--shared]

Starts `python app.py` (SQLite by default; with --database-url and --processes 2, two processes
on that database, requests alternating between them), posts the deal's card in three channels,
then sends 200 `/ptm next …` commands at once. Reports how long after the last change every
copy showed the final version (goal: within 2 s), the number of chat.update calls the burst
caused, and that no change was lost. With --shared, CSHARED is a Slack Connect channel with
another company (Slack's `shared_team_ids`): its copy shows shared fields only, and every pass
records what it shows in the disclosure ledger first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live import (  # noqa: E402
    SignedClient,
    cards,
    fake_slack,
    free_port,
    machine,
    ptm_env,
    spawn,
    stop,
    unique_database,
)
from tests.support.cards import card_version  # noqa: E402
from tests.support.databases import fresh_postgres  # noqa: E402


async def scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(sql))).scalar()
    finally:
        await engine.dispose()


async def run(changes: int, url: str | None, processes: int, shared: bool = False) -> None:
    if url is not None and url.startswith("postgresql"):
        async with unique_database(url) as own:  # this run's own database, dropped after
            await _run(changes, own, processes, shared)
    else:
        await _run(changes, url, processes, shared)


async def _run(changes: int, url: str | None, processes: int, shared: bool) -> None:
    fake = await fake_slack()
    if shared:
        fake.channel_teams["CSHARED"] = ["T0URS", "TPARTNER"]
    work = Path(tempfile.mkdtemp(prefix="ptm-burst-"))
    url = url or f"sqlite+aiosqlite:///{work}/ptm.db"
    if url.startswith("postgresql"):
        await fresh_postgres(url)
    ports = [free_port() for _ in range(processes)]
    procs = []
    for i, port in enumerate(ports):
        procs.append(await spawn(["app.py"], ptm_env(fake, url, port), port, work / f"ptm{i}.log"))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            clients = [SignedClient(session, p, fake.response_url()) for p in ports]
            await clients[0].command("new Acme expansion")
            await clients[0].command("trio <@USELLER> <@UALLY> <@UPARTNER>")
            await clients[-1].command("card PTM-1", channel="CSHARED")
            await clients[0].command("card PTM-1", channel="COTHER")
            while len(cards(fake)) < 3:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            start = int(await scalar(url, "SELECT version FROM deals"))  # type: ignore[call-overload]
            updates_before = fake.count("chat.update")
            began = time.time()
            answers = await asyncio.gather(
                *(clients[i % processes].command(f"next step {i}") for i in range(changes))
            )
            answered = time.time()
            final = start + changes
            reached, patience = start, time.time() + 60
            while reached != final and time.time() < patience:
                reached = int(await scalar(url, "SELECT version FROM deals"))  # type: ignore[call-overload]
                await asyncio.sleep(0.05)
            copies = cards(fake)
            deadline = time.time() + 30
            while time.time() < deadline and not all(
                card_version(fake.message(c, t)) == final for c, t in copies
            ):
                await asyncio.sleep(0.02)
            await asyncio.sleep(1)
            last_change = await scalar(url, "SELECT max(at) FROM deal_events")
            # A lone change after the burst has settled: how soon every copy shows it.
            await asyncio.sleep(1.5)
            lone_sent = time.time()
            await clients[0].command("next one more step")
            lone = final + 1
            lone_deadline = time.time() + 10
            while time.time() < lone_deadline and not all(
                card_version(fake.message(c, t)) == lone for c, t in copies
            ):
                await asyncio.sleep(0.002)
            lone_lag = time.time() - lone_sent
            try:
                ledger = await scalar(url, "SELECT count(*) FROM disclosures")
            except Exception:  # a checkout from before the ledger  # noqa: BLE001
                ledger = "no ledger"
    finally:
        for proc in procs:
            await stop(proc)
        await fake.stop()
    last_change_at = _epoch(last_change)
    arrivals = {}
    for call in fake.calls:
        if call.method == "chat.update" and card_version(call.payload) == final:
            arrivals.setdefault((call.payload["channel"], call.payload["ts"]), call.at)
    burst_updates = fake.count("chat.update") - updates_before
    statuses = sorted({status for status, _, _ in answers})
    database = "PostgreSQL" if "postgresql" in url else "SQLite"
    room = "CSHARED shared with another company" if shared else "every room internal"
    print(f"machine: {machine()}; {database}, {processes} process(es); {room}")
    print(
        f"{changes} changes sent at once: all answered in {answered - began:.2f} s "
        f"(HTTP {statuses}); deal went from v{start} to v{reached}: "
        f"lost changes {final - reached}"
    )
    lag = max(arrivals.values()) - last_change_at if len(arrivals) == len(copies) else float("nan")
    print(  # noqa: T201
        f"copies showing v{final}: {len(arrivals)} of {len(copies)}; last copy final "
        f"{lag:.2f} s after the last change; chat.update calls for the burst: {burst_updates} "
        f"(one per change per copy would be {changes * len(copies)}); ledger rows: {ledger}"
    )
    windows: dict[tuple[str, str, int], int] = {}
    for call in fake.calls:
        if call.method == "chat.update" and call.at >= began:
            key = (call.payload["channel"], call.payload["ts"], int(call.at - began))
            windows[key] = windows.get(key, 0) + 1
    print(  # noqa: T201
        f"most chat.update to one copy in any one-second window: {max(windows.values())}; "
        f"a lone change after the burst: every copy showed it {lone_lag * 1000:.0f} ms after "
        "it was sent (its command's answer included)"
    )


def _epoch(value: object) -> float:
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--database-url")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--shared", action="store_true", help="CSHARED is a Slack Connect room")
    args = parser.parse_args()
    asyncio.run(run(args.changes, args.database_url, args.processes, args.shared))


if __name__ == "__main__":
    main()
