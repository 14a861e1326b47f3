"""Two real PTM processes on one PostgreSQL database, as behind a load balancer: 200 concurrent
changes and duplicated event deliveries spread over both lose nothing, apply each event once,
leave every card copy on the final version, and a joint restart sends one digest per person."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.slack_api import BOT_USER, FakeSlack
from tests.support.cards import card_version
from tests.support.cli import ROOT, clean_env
from tests.support.harness import env_for, is_card
from tests.support.slack_requests import Inbound
from tests.test_process import free_port, stop, wait_healthy

pytestmark = pytest.mark.skipif(
    not os.environ.get("PTM_TEST_DATABASE_URL"), reason="needs PostgreSQL"
)
COMMANDS, MENTIONS = 150, 50


async def rows(url: str, sql: str) -> list[Any]:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.text(sql))).all())
    finally:
        await engine.dispose()


async def until(check: Any, timeout: float = 60) -> None:
    for _ in range(int(timeout / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


class Pair:
    """Two `python app.py` processes on the same database, each on its own port."""

    def __init__(self, fake: FakeSlack, url: str, logs: Path, **extra: str) -> None:
        self.fake, self.url, self.logs, self.extra = fake, url, logs, extra
        self.ports = [free_port(), free_port()]
        self.procs: list[asyncio.subprocess.Process] = []
        self.slack = [
            Inbound(f"http://127.0.0.1:{p}/slack/events", response_url=fake.response_url())
            for p in self.ports
        ]

    async def start(self) -> None:
        self.procs = []
        for port in self.ports:
            env = env_for(self.fake, self.url, PORT=str(port), PTM_DIGEST_HOUR="0", **self.extra)
            # Logs go to a file: hundreds of requests would fill a pipe nobody reads.
            log = self.logs / f"ptm-{port}.log"
            self.procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "app.py",
                    cwd=ROOT,
                    env={**clean_env(), **env},
                    stdout=log.open("ab"),
                    stderr=asyncio.subprocess.STDOUT,
                )
            )
        await asyncio.gather(
            *(wait_healthy(p, q) for p, q in zip(self.ports, self.procs, strict=True))
        )

    async def stop(self) -> list[int]:
        return list(await asyncio.gather(*(stop(p) for p in self.procs)))


def mention(n: int, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "channel": "CROOM",
        "user": "USELLER",
        "text": f"<@{BOT_USER}> next: mention step {n}",
        "ts": f"1800000000.{n:06d}",
        "team": "T0URS",
        "user_team": "T0URS",
    }


async def test_two_processes_share_one_database_without_losing_or_doubling(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    from tests.conftest import PG_URL, fresh_postgres

    assert PG_URL
    await fresh_postgres(PG_URL)
    pair = Pair(fake_slack, PG_URL, tmp_path)
    await pair.start()
    one, two = pair.slack
    try:
        await one.command("new Acme expansion")
        await one.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
        await two.command("card PTM-1", channel="CSHARED")
        await one.command("card PTM-1", channel="COTHER")
        await until(lambda: _true(len(_cards(fake_slack)) == 3))
        [(start,)] = await rows(PG_URL, "SELECT version FROM deals")

        # 150 slash commands and 50 bot mentions at once, alternating between the processes;
        # every mention arrives three times: app_mention here, message there, a retry there.
        sends = [
            pair.slack[i % 2].command(f"next command step {i}", user="USELLER")
            for i in range(COMMANDS)
        ]
        for n in range(MENTIONS):
            here, there = pair.slack[n % 2], pair.slack[1 - n % 2]
            sends.append(here.event(mention(n, "app_mention"), event_id=f"EvA{n}"))
            sends.append(there.event(mention(n, "message"), event_id=f"EvM{n}"))
            sends.append(there.event(mention(n, "app_mention"), event_id=f"EvA{n}", retry_num=1))
        answers = await asyncio.gather(*sends)
        bad = [(i, a) for i, a in enumerate(answers) if a[0] != 200]
        assert not bad, bad[:5]

        final = start + COMMANDS + MENTIONS

        async def all_applied() -> bool:
            return await rows(PG_URL, "SELECT version FROM deals") == [(final,)]

        await until(all_applied)
        # No lost change: every step is in the audit trail once; nothing failed or conflicted.
        texts = await rows(PG_URL, "SELECT text FROM next_steps")
        assert sorted(t for (t,) in texts) == sorted(
            [f"command step {i}" for i in range(COMMANDS)]
            + [f"mention step {n}" for n in range(MENTIONS)]
        )
        assert await rows(
            PG_URL,
            f"SELECT source, count(*) FROM deal_events WHERE version > {start} GROUP BY source "
            "ORDER BY source",
        ) == [("command", COMMANDS), ("message", MENTIONS)]
        # Each mention was answered once, in its thread.
        answered = [p for p in fake_slack.of("chat.postMessage") if p.get("thread_ts")]
        assert sorted(p["thread_ts"] for p in answered) == sorted(
            f"1800000000.{n:06d}" for n in range(MENTIONS)
        )

        # Every copy converges on the final version.
        async def converged() -> bool:
            return all(
                card_version(fake_slack.message(c, t)) == final for c, t in _cards(fake_slack)
            )

        await until(converged, timeout=10)
    finally:
        assert await pair.stop() == [0, 0]  # SIGTERM: in-flight work finished, clean exit
    # ...and no process left a card-update lease behind.
    assert await rows(PG_URL, "SELECT count(*) FROM card_sync_leases") == [(0,)]

    # Both start again at the same moment, both with digests due: one DM per person.
    await pair.start()
    try:

        async def digests_done() -> bool:
            left = await rows(PG_URL, "SELECT count(*) FROM digest_runs WHERE status = 'pending'")
            done = await rows(PG_URL, "SELECT count(*) FROM digest_runs")
            return left == [(0,)] and done == [(2,)]

        await until(digests_done, timeout=30)
        dms = [
            p["channel"] for p in fake_slack.of("chat.postMessage") if p["channel"].startswith("U")
        ]
        assert sorted(dms) == ["UALLY", "USELLER"]
    finally:
        assert await pair.stop() == [0, 0]


async def test_two_processes_serve_many_workspaces_once_each(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Many workspaces, two processes starting together with digests due: every tenant's
    people get one digest, its partner rep one nudge in the deal room, each sent with that
    tenant's own token, none twice."""
    from tests.conftest import PG_URL, fresh_postgres
    from tests.fakes.slack_api import Workspace
    from tests.handlers.test_install import MANY, install_at

    assert PG_URL
    await fresh_postgres(PG_URL)
    teams = ["TAAA", "TBBB", "TCCC"]
    fake_slack.install_codes = {
        t: Workspace(t, f"Co {t}", installer=f"U{t}", bot_token=f"xoxb-{t}") for t in teams
    }
    fake_slack.users.update({f"U{t}": t for t in teams} | {f"UP{t}": "TOTHER" for t in teams})
    pair = Pair(fake_slack, PG_URL, tmp_path, **MANY)
    await pair.start()
    try:
        for i, team in enumerate(teams):
            assert (await install_at(f"http://127.0.0.1:{pair.ports[i % 2]}", team)).startswith(
                "200"
            )
            who, room, inbound = f"U{team}", f"C{team}", pair.slack[i % 2]
            trio, step = f"trio <@{who}> <@{who}> <@UP{team}>", f"next call them for <@UP{team}>"
            for text in ("new Deal", trio, step):
                status, _ = await inbound.command(text, user=who, team=team, channel=room)
                assert status == 200
    finally:
        assert await pair.stop() == [0, 0]
    fake_slack.calls.clear()
    await pair.start()  # both at once, digests due for everyone (hour 0)
    try:

        async def all_sent() -> bool:
            left = await rows(PG_URL, "SELECT count(*) FROM digest_runs WHERE status <> 'sent'")
            done = await rows(PG_URL, "SELECT count(*) FROM digest_runs")
            nudged = await rows(PG_URL, "SELECT count(*) FROM nudge_runs")
            return left == [(0,)] and done == [(3,)] and nudged == [(3,)]

        await until(all_sent, timeout=30)
        await asyncio.sleep(1)  # anything sent twice would be sent by now
        posted = sorted(
            (c.payload["channel"], c.token, bool(c.payload.get("thread_ts")))
            for c in fake_slack.of_calls("chat.postMessage")
        )
        assert posted == sorted(
            [(f"U{t}", f"xoxb-{t}", False) for t in teams]
            + [(f"C{t}", f"xoxb-{t}", True) for t in teams]
        )
    finally:
        assert await pair.stop() == [0, 0]


async def _true(value: bool) -> bool:
    return value


def _cards(fake: FakeSlack) -> list[tuple[str, str]]:
    return [
        key
        for key, message in fake.messages.items()
        if is_card(message) and not key[0].startswith("U")
    ]


async def test_connection_pool_is_sized_from_settings(fake_slack: FakeSlack) -> None:
    """PTM_DB_POOL_SIZE caps a process's connections: a burst of three times as many changes
    as connections all get in, waiting for a free connection instead of opening (and then
    closing) more, each of which would cost PostgreSQL a server process."""
    from sqlalchemy import event

    from tests.conftest import PG_URL, fresh_postgres
    from tests.support.harness import start_bot

    assert PG_URL
    await fresh_postgres(PG_URL)
    bot = await start_bot(fake_slack, PG_URL, PTM_DB_POOL_SIZE="3")
    try:
        await bot.slack.command("new Burst", channel="CROOM")
        await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>", channel="CROOM")
        pool = bot.runtime.engine.sync_engine.pool
        assert pool.size() == 3  # type: ignore[attr-defined]
        opened: list[object] = []
        busiest = [0]

        def on_checkout(*_args: object) -> None:
            busiest[0] = max(busiest[0], pool.checkedout())  # type: ignore[attr-defined]

        event.listen(bot.runtime.engine.sync_engine, "connect", lambda *a: opened.append(a))
        event.listen(bot.runtime.engine.sync_engine, "checkout", on_checkout)
        answers = await asyncio.gather(
            *(bot.slack.command(f"next step {i}", channel="CROOM") for i in range(9))
        )
        assert [status for status, _ in answers] == [200] * 9
        assert await bot.rows("SELECT version FROM deals") == [(11,)]
        assert busiest[0] <= 3 and len(opened) <= 3
    finally:
        await bot.stop()
