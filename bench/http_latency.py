"""Benchmark: how long PTM takes to answer `/ptm stage` and a card click over real HTTP (SQLite),
in one-workspace mode and in many-workspace mode (installed through "Add to Slack"), against a
bare Bolt AsyncApp answering the same signed requests in the same run.

    python bench/http_latency.py [--requests 400] [--database-url URL] [--spacing MS]

Starts `python app.py` (SQLite file, fake Slack Web API in this process) and
`bench/bare_bolt.py`, creates a deal with its trio and card, then sends requests one at a time,
alternating PTM and bare Bolt: `/ptm stage Discover|Validate` (a real change each time: PTM
writes it before answering) and a click on the card's stage menu (PTM answers first and
changes the deal after the ack, as Slack wants) and `/ptm next …` (a change written before the
answer). Reports p50 and p99 of the time to the HTTP answer, the ratio of PTM's p50 to bare
Bolt's, and PTM's own time from each request's arrival to its ack as its server reports it
(`Server-Timing`). `--database-url` puts PTM's databases on PostgreSQL (a database of this run's
own); `--spacing MS` waits between requests (spaced out) instead of sending them back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet

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
    unique_database,
)
from tests.fakes.slack_api import Workspace  # noqa: E402

# `/ptm stage` alternates the first two; the click always picks the third, so both are real
# changes every time (a click to the stage the next command named made that command a no-op).
STAGES = ("Discover", "Validate")
CLICKED = "Propose"


async def install(port: int) -> None:
    """ "Add to Slack" as a browser follows it: the install page, then Slack's redirect back."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as browser:
        async with browser.get(f"{base}/slack/install") as page:
            html = await page.text()
            cookie = page.headers["Set-Cookie"].split(";")[0]
        state = re.search(r"state=([\w-]+)", html)
        assert state is not None, html
        back = f"{base}/slack/oauth_redirect?code=bench&state={state.group(1)}"
        async with browser.get(back, headers={"Cookie": cookie}) as done:
            assert done.status == 200, await done.text()


async def run(requests: int, database_url: str | None, spacing: float) -> None:
    if database_url is None:
        await _run(requests, None, spacing)
        return
    async with unique_database(database_url) as one, unique_database(database_url) as many:
        await _run(requests, (one, many), spacing)


async def _run(requests: int, databases: tuple[str, str] | None, spacing: float) -> None:
    fake = await fake_slack()
    fake.install_codes = {"bench": Workspace("T0URS", "Ours", "USELLER", "xoxb-bench-many")}
    work = Path(tempfile.mkdtemp(prefix="ptm-latency-"))
    ports = {"ptm": free_port(), "many": free_port(), "bare": free_port()}
    one_db, many_db = databases or (
        f"sqlite+aiosqlite:///{work}/ptm.db",
        f"sqlite+aiosqlite:///{work}/many.db",
    )
    env = ptm_env(fake, one_db, ports["ptm"])
    many_env = ptm_env(
        fake,
        many_db,
        ports["many"],
        SLACK_BOT_TOKEN="",
        SLACK_CLIENT_ID="1111.2222",
        SLACK_CLIENT_SECRET="bench",
        PTM_SECRET_KEY=Fernet.generate_key().decode(),
    )
    servers = {
        "ptm": await spawn(["app.py"], env, ports["ptm"], work / "ptm.log"),
        "many": await spawn(["app.py"], many_env, ports["many"], work / "many.log"),
        "bare": await spawn(
            ["bench/bare_bolt.py", str(ports["bare"])], env, ports["bare"], work / "bare.log"
        ),
    }
    rooms = {"ptm": "CROOM", "many": "CMANY", "bare": "CROOM"}
    try:
        await install(ports["many"])
        async with aiohttp.ClientSession() as session:
            clients = {
                name: SignedClient(session, port, fake.response_url())
                for name, port in ports.items()
            }
            places = {}
            for name in ("ptm", "many"):
                room = rooms[name]
                await clients[name].command("new Acme expansion", channel=room)
                await clients[name].command("trio <@USELLER> <@UALLY> <@UPARTNER>", channel=room)
                for _ in range(100):
                    if [c for c in cards(fake) if c[0] == room]:
                        break
                    await asyncio.sleep(0.05)
                [(channel, ts)] = [c for c in cards(fake) if c[0] == room]
                places[name] = (fake.message(channel, ts), channel, ts)
            places["bare"] = places["ptm"]
            times: dict[tuple[str, str], list[float]] = {}
            acks: dict[tuple[str, str], list[float]] = {}  # the servers' own, milliseconds

            def note(i: int, server: str, kind: str, status: int, took: float) -> None:
                assert status == 200, (server, kind, status)
                if i < 40:  # the first 40 rounds warm up
                    return
                times.setdefault((server, kind), []).append(took)
                if clients[server].server_ms is not None:
                    acks.setdefault((server, kind), []).append(clients[server].server_ms)

            for i in range(requests + 40):
                stage = STAGES[i % 2]
                for server, client in clients.items():
                    card, channel, ts = places[server]
                    status, _, took = await client.command(f"stage {stage}", channel=channel)
                    note(i, server, "command", status, took)
                    await asyncio.sleep(spacing)
                    click = stage_click(card, channel, ts, CLICKED)
                    status, _, took = await client.interaction(click)
                    note(i, server, "click", status, took)
                    await asyncio.sleep(spacing)
                    status, _, took = await client.command(f"next step {i}", channel=channel)
                    note(i, server, "next", status, took)
                    await asyncio.sleep(spacing)
            await asyncio.sleep(1)  # let the last after-ack work finish before counting
    finally:
        for proc in servers.values():
            await stop(proc)
        await fake.stop()
    place = "PostgreSQL" if databases else "SQLite"
    pace = f"{spacing * 1000:.0f} ms apart" if spacing else "back to back"
    print(  # noqa: T201
        f"machine: {machine()}; PTM on {place}; {requests} requests of each kind per server, {pace}"
    )
    labels = {"command": "/ptm stage", "click": "card stage click", "next": "/ptm next"}
    for kind, label in labels.items():
        bare_t = times[("bare", kind)]
        for server, name in (("ptm", "one workspace"), ("many", "many workspaces")):
            own = [ms / 1000 for ms in acks.get((server, kind), [])]
            if own:
                print(f"{label}, PTM {name}, arrival to ack (server side): {summary(own)}")  # noqa: T201
        for server, name in (("ptm", "one workspace"), ("many", "many workspaces")):
            ptm_t = times[(server, kind)]
            ratio = statistics.median(ptm_t) / statistics.median(bare_t)
            print(  # noqa: T201
                f"{label}, PTM {name}: {summary(ptm_t)} | bare Bolt {summary(bare_t)} | "
                f"p50 ratio {ratio:.2f}x"
            )
        one, many = times[("ptm", kind)], times[("many", kind)]
        print(  # noqa: T201
            f"{label}: many workspaces / one workspace p50 "
            f"{statistics.median(many) / statistics.median(one):.2f}x"
        )
    print(f"chat.update calls made meanwhile: {fake.count('chat.update')}")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--database-url", help="PTM on PostgreSQL (databases of this run's own)")
    parser.add_argument("--spacing", type=float, default=0.0, help="milliseconds between requests")
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.database_url, args.spacing / 1000))


if __name__ == "__main__":
    main()
