"""Benchmark: Python function calls per change — a CPU yardstick that does not move with the
machine's load (wall and CPU times here vary by a third within minutes).

    python bench/calls_per_change.py [--changes 200] [--database-url URL] [--top N]

Starts the bot in this process (as the tests do: signed requests into the real Bolt app, a fake
Slack Web API, SQLite in a file of this run's own), makes a deal with its trio, warms up with 30
changes, then counts with cProfile every Python function call while `/ptm next …` runs
`--changes` times, one after another, each with its card pass. The count includes the test
client and the fake Slack (the same for every version of PTM); the same code gives the same
count run after run. `--database-url` runs it on PostgreSQL (a database of this run's own);
`--top N` also prints the N functions with the most calls under them, per change.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live import own_database  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.support.harness import start_bot  # noqa: E402


async def count(url: str, changes: int, top: int) -> None:
    fake = FakeSlack(validate=False)
    await fake.start()
    fake.users.update({"USELLER": "T0URS", "UALLY": "T0URS", "UPARTNER": "TPARTNER"})
    bot = await start_bot(fake, url)
    try:
        await bot.slack.command("new Acme")
        await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
        for i in range(30):
            await bot.slack.command(f"next warm up {i}")
        await bot.runtime.deps.cards.idle()
        profile = cProfile.Profile()
        profile.enable()
        for i in range(changes):
            await bot.slack.command(f"next step {i}")
        await bot.runtime.deps.cards.idle()
        profile.disable()
    finally:
        await bot.stop()
        await fake.stop()
    stats = pstats.Stats(profile)
    print(
        f"{url.split(':')[0]}: Python function calls per change: {stats.total_calls / changes:,.0f}"
    )  # noqa: T201
    if top:
        stats.sort_stats("cumulative").print_stats(top)


async def main(url: str | None, changes: int, top: int) -> None:
    async with own_database(url, "ptm-calls-") as own:
        await count(own, changes, top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--database-url")
    parser.add_argument("--top", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.changes, args.top))
