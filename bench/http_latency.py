"""Benchmark: how long PTM takes to answer `/ptm stage` and a card click over real HTTP (SQLite),
against a bare Bolt AsyncApp answering the same signed requests in the same run.

    python bench/http_latency.py [--requests 400]

Starts `python app.py` (SQLite file, fake Slack Web API in this process) and
`bench/bare_bolt.py`, creates a deal with its trio and card, then sends requests one at a time,
alternating PTM and bare Bolt: `/ptm stage Discover|Validate` (every one a real change: PTM
writes it before answering) and a click on the card's stage menu (PTM answers first and
changes the deal after the ack, as Slack wants). Reports p50 and p99 of the time to the HTTP
answer, and the ratio of PTM's p50 to bare Bolt's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
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
    stage_click,
    stop,
    summary,
)

STAGES = ("Discover", "Validate")


async def run(requests: int) -> None:
    fake = await fake_slack()
    work = Path(tempfile.mkdtemp(prefix="ptm-latency-"))
    ptm_port, bare_port = free_port(), free_port()
    env = ptm_env(fake, f"sqlite+aiosqlite:///{work}/ptm.db", ptm_port)
    ptm = await spawn(["app.py"], env, ptm_port, work / "ptm.log")
    bare = await spawn(["bench/bare_bolt.py", str(bare_port)], env, bare_port, work / "bare.log")
    try:
        async with aiohttp.ClientSession() as session:
            clients = {
                "ptm": SignedClient(session, ptm_port, fake.response_url()),
                "bare": SignedClient(session, bare_port, fake.response_url()),
            }
            await clients["ptm"].command("new Acme expansion")
            await clients["ptm"].command("trio <@USELLER> <@UALLY> <@UPARTNER>")
            for _ in range(100):
                if cards(fake):
                    break
                await asyncio.sleep(0.05)
            [(channel, ts)] = cards(fake)
            card = fake.message(channel, ts)
            times: dict[tuple[str, str], list[float]] = {}
            for i in range(requests + 40):  # the first 40 rounds warm up
                stage = STAGES[i % 2]
                for server, client in clients.items():
                    status, _, took = await client.command(f"stage {stage}")
                    assert status == 200, (server, status)
                    if i >= 40:
                        times.setdefault((server, "command"), []).append(took)
                    status, _, took = await client.interaction(
                        stage_click(card, channel, ts, STAGES[(i + 1) % 2])
                    )
                    assert status == 200, (server, status)
                    if i >= 40:
                        times.setdefault((server, "click"), []).append(took)
            await asyncio.sleep(1)  # let the last after-ack work finish before counting
    finally:
        await stop(ptm)
        await stop(bare)
        await fake.stop()
    print(f"machine: {machine()}; {requests} requests of each kind per server")  # noqa: T201
    for kind in ("command", "click"):
        ptm_t, bare_t = times[("ptm", kind)], times[("bare", kind)]
        ratio = statistics.median(ptm_t) / statistics.median(bare_t)
        label = "/ptm stage" if kind == "command" else "card stage click"
        print(
            f"{label}: PTM {summary(ptm_t)} | bare Bolt {summary(bare_t)} | p50 ratio {ratio:.2f}x"
        )  # noqa: T201
    updates = fake.count("chat.update")
    print(f"chat.update calls made by PTM meanwhile: {updates}")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    asyncio.run(run(parser.parse_args().requests))


if __name__ == "__main__":
    main()
