"""Benchmark: many deals of one workspace change at once; chat.update stays within Slack's Tier 3.

    python bench/workspace_budget.py [--deals 100] [--database-url URL] [--processes 1]

Starts `python app.py` as in production (its chat.update budget: 50 a minute sustained, bursts
of 20, shared by every process through the database), posts one card for each of `--deals`
deals (each in a channel of its own), then changes every deal at once, a few milliseconds
apart. Reports the most chat.update calls in any 60-second and any 1-second window, how long
until every copy showed its change, and whether the waiting deals went out most recently
changed first. With --database-url and --processes 2, two processes on that database (a
database of this run's own), requests alternating between them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

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
from tests.support.cards import card_stage  # noqa: E402


async def _changed_at(url: str) -> dict[int, object]:
    """When each deal last changed, by its number (the order the budget should follow)."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT number, updated_at FROM deals"))).all()
    finally:
        await engine.dispose()
    return {int(n): at for n, at in rows}


def most_in(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] - start < window:
            j += 1
        best = max(best, j - i)
    return best


async def run(deals: int, url: str | None, processes: int) -> None:
    fake = await fake_slack()
    work = Path(tempfile.mkdtemp(prefix="ptm-budget-"))
    async with contextlib.AsyncExitStack() as stack:
        if url is None:
            url = f"sqlite+aiosqlite:///{work}/ptm.db"
        else:
            url = await stack.enter_async_context(unique_database(url))
        ports = [free_port() for _ in range(processes)]
        procs = [
            await spawn(["app.py"], ptm_env(fake, url, port), port, work / f"ptm{i}.log")
            for i, port in enumerate(ports)
        ]
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
                clients = [SignedClient(s, p, fake.response_url()) for p in ports]
                for n in range(1, deals + 1):
                    await clients[n % processes].command(f"new Deal {n}", channel=f"CR{n}")
                while len(cards(fake)) < deals:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1)
                fake.calls.clear()

                async def move(n: int) -> float:
                    await asyncio.sleep(0.005 * n)
                    sent = time.time()
                    await clients[n % processes].command(
                        f"stage PTM-{n} Validate", channel=f"CR{n}"
                    )
                    return sent

                began = time.time()
                sent = await asyncio.gather(*(move(n) for n in range(1, deals + 1)))
                deadline = time.time() + 20 + deals * 1.5
                copies = cards(fake)
                while time.time() < deadline and not all(
                    card_stage(fake.message(c, t)) == "Validate" for c, t in copies
                ):
                    await asyncio.sleep(0.1)
                converged = time.time() - began
                changed = await _changed_at(url)
        finally:
            for proc in procs:
                await stop(proc)
            await fake.stop()
    every = [c for c in fake.calls if c.method == "chat.update"]
    times = [c.at for c in every]  # the budget counts every call
    # The change's own updates (the rest: the cards' first passes, still in the queue when
    # the deals changed — the workspace was busy, as it is in production).
    updates = [c for c in every if card_stage(c.payload) == "Validate"]
    order = [int(c.payload["channel"].removeprefix("CR")) for c in updates]
    first_wait = next((i for i, c in enumerate(updates) if c.at - began > 2.0), len(updates))
    waited = order[first_wait:]
    descending = sum(1 for a, b in zip(waited, waited[1:], strict=False) if changed[a] > changed[b])
    done = sum(card_stage(fake.message(c, t)) == "Validate" for c, t in copies)
    database = "PostgreSQL" if "postgresql" in url else "SQLite"
    print(f"machine: {machine()}; {database}, {processes} process(es)")  # noqa: T201
    print(  # noqa: T201
        f"{deals} deals changed within {max(sent) - min(sent):.2f} s: {len(updates)} chat.update "
        f"for the change ({len(every) - len(updates)} more still queued before it), "
        f"copies showing their change {done} of {len(copies)}, all within {converged:.1f} s"
    )
    print(  # noqa: T201
        f"most chat.update in any 60 s: {most_in(times, 60.0)} (budget 50 + burst 20); "
        f"in any 1 s: {most_in(times, 1.0)}; after the first 2 s, {descending} of "
        f"{max(len(waited) - 1, 0)} consecutive updates went to the more recently changed "
        "deal first"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100)
    parser.add_argument("--database-url")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.deals, args.database_url, args.processes))


if __name__ == "__main__":
    main()
