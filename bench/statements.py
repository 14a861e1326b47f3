"""Benchmark: SQL statements per change, card pass included.

    python bench/statements.py [--database-url URL] [--changes 20] [--stage]

Starts the bot in this process (as the tests do: signed requests into the real Bolt app, a fake
Slack Web API), makes a deal with its trio and a second card copy, warms up, then counts every
statement the database receives while `/ptm next …` runs `--changes` times — the change's own
transaction and its card pass over both copies — and prints the count per change with the most
frequent statements (`--stage`: `/ptm stage …`, alternating two stages, instead of `/ptm next`).
SQLite by default (a file of this run's own); BEGIN is counted where the
driver sends it (SQLite), COMMIT is not.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from bench.live import own_database  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.support.harness import start_bot  # noqa: E402


async def count(url: str, changes: int, stage: bool) -> None:
    fake = FakeSlack(validate=False)
    await fake.start()
    fake.users.update({"USELLER": "T0URS", "UALLY": "T0URS", "UPARTNER": "TPARTNER"})
    bot = await start_bot(fake, url)
    try:
        await bot.slack.command("new Acme")
        await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
        await bot.slack.command("card PTM-1", channel="COTHER")
        for i in range(5):
            await bot.slack.command(f"next warm up {i}")
        seen: list[str] = []

        def hook(*args: object) -> None:
            seen.append(
                re.sub(r"\s+", " ", str(args[2]))[: int(os.environ.get("PTM_BENCH_WIDTH", "100"))]
            )

        engine = bot.runtime.engine.sync_engine
        event.listen(engine, "before_cursor_execute", hook)
        for i in range(changes):
            if stage:
                await bot.slack.command(f"stage {('discover', 'validate')[i % 2]}")
            else:
                await bot.slack.command(f"next step {i}")
        await bot.runtime.deps.cards.idle()
        event.remove(engine, "before_cursor_execute", hook)
    finally:
        await bot.stop()
        await fake.stop()
    print(f"{url.split(':')[0]}: {len(seen) / changes:.1f} statements per change")  # noqa: T201
    for statement, n in collections.Counter(seen).most_common(25):
        print(f"  {n / changes:5.2f}  {statement}")  # noqa: T201


async def main(url: str | None, changes: int, stage: bool) -> None:
    async with own_database(url, "ptm-statements-") as own:
        await count(own, changes, stage)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--stage", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.changes, args.stage))
