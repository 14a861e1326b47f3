"""What the end-to-end benchmarks share: real `python app.py` processes against a local fake
Slack Web API (the tests' own, with Block Kit validation off), and a lean signed-request
client with one keep-alive connection pool, so the client costs the same for every server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.support.slack_requests import command_form  # noqa: E402

SECRET = "bench-signing-secret-0123456789"


BENCH_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/ptm_bench"


async def ensure_database(url: str) -> None:
    """Create the benchmark's own PostgreSQL database if it does not exist yet (a benchmark
    never uses the tests' shared `test` database)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = make_url(url).database
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            found = await conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if not found:
                await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def unique_database(url: str) -> AsyncIterator[str]:
    """A PostgreSQL database of this run's own (`<name>_<pid>_<random>`), dropped at the end:
    two runs at once, or a run beside the tests, never share one."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    base = make_url(url)
    name = f"{base.database}_{os.getpid()}_{secrets.token_hex(3)}"
    own = base.set(database=name)
    await ensure_database(own.render_as_string(hide_password=False))
    try:
        yield own.render_as_string(hide_password=False)
    finally:
        admin = create_async_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await admin.dispose()


@contextlib.asynccontextmanager
async def own_database(url: str | None, prefix: str) -> AsyncIterator[str]:
    """This run's own database: a new SQLite file (no `url`), or a PostgreSQL database of its
    own beside `url`'s (`unique_database`)."""
    if url is None:
        work = tempfile.mkdtemp(prefix=prefix)
        yield f"sqlite+aiosqlite:///{work}/ptm-{os.getpid()}.db"
        return
    async with unique_database(url) as own:
        yield own


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fake_slack() -> FakeSlack:
    fake = FakeSlack(validate=False)
    fake.users.update({"USELLER": "T0URS", "UALLY": "T0URS", "UPARTNER": "TPARTNER"})
    await fake.start()
    return fake


def ptm_env(fake: FakeSlack, db_url: str, port: int, **extra: str) -> dict[str, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PTM_", "DATABASE_"))
    }
    return {
        **clean,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": db_url,
        "PORT": str(port),
        "PTM_LOG_LEVEL": "WARNING",
        **extra,
    }


async def spawn(
    args: list[str], env: dict[str, str], port: int, log: Path
) -> asyncio.subprocess.Process:
    """Start a server process and wait until it answers on `port`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )
    for _ in range(400):
        if proc.returncode is not None:
            raise RuntimeError(f"{args} exited: see {log}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{args} did not start")


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 30)


class SignedClient:
    """Slack-shaped signed POSTs to one server, over a shared keep-alive session."""

    def __init__(self, session: aiohttp.ClientSession, port: int, response_url: str) -> None:
        self.session = session
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.response_url = response_url
        self.verifier = SignatureVerifier(SECRET)
        # PTM's own time from the request's arrival to its ack, as its server reports it
        # (`Server-Timing: ack;dur=…`), for the last request; None from a server that does not.
        self.server_ms: float | None = None

    async def post(self, body: str, content_type: str) -> tuple[int, Any, float]:
        """Returns status, parsed body and the seconds the server took to answer."""
        ts = str(int(time.time()))
        headers = {
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": self.verifier.generate_signature(timestamp=ts, body=body),
        }
        started = time.perf_counter()
        async with self.session.post(self.url, data=body.encode(), headers=headers) as resp:
            text = await resp.text()
        elapsed = time.perf_counter() - started
        timing = resp.headers.get("Server-Timing", "")
        self.server_ms = float(timing.split("dur=")[1]) if "dur=" in timing else None
        return resp.status, (json.loads(text) if text.startswith("{") else text), elapsed

    async def command(
        self, text: str, *, user: str = "USELLER", channel: str = "CROOM"
    ) -> tuple[int, Any, float]:
        form = command_form(
            text,
            user=user,
            channel=channel,
            team="T0URS",
            response_url=self.response_url,
            trigger_id="t-bench",
        )
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any]) -> tuple[int, Any, float]:
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )


def stage_click(
    card: dict[str, Any], channel: str, ts: str, stage: str, user: str = "USELLER"
) -> dict[str, Any]:
    """The block_actions payload of choosing `stage` in a card's stage menu."""
    for block in card["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element.get("action_id") == "ptm_card_stage":
                option = next(o for o in element["options"] if o["value"] == stage)
                return {
                    "type": "block_actions",
                    "team": {"id": "T0URS", "domain": "ours"},
                    "user": {"id": user, "username": user.lower(), "team_id": "T0URS"},
                    "api_app_id": "APTM",
                    "token": "legacy",
                    "container": {"type": "message", "message_ts": ts, "channel_id": channel},
                    "trigger_id": "t-bench",
                    "channel": {"id": channel, "name": "deal-room"},
                    "message": {
                        "ts": ts,
                        "blocks": card["blocks"],
                        "text": card.get("text"),
                        "user": card.get("user"),  # the bot user that posted it, as Slack says
                    },
                    "response_url": "http://127.0.0.1:9/none",
                    "actions": [
                        {
                            "action_id": "ptm_card_stage",
                            "block_id": block["block_id"],
                            "type": "static_select",
                            "selected_option": option,
                            "action_ts": str(time.time()),
                        }
                    ],
                }
    raise LookupError("no stage menu on the card")


def cards(fake: FakeSlack) -> list[tuple[str, str]]:
    return [
        key
        for key, message in fake.messages.items()
        if any(":controls:" in str(b.get("block_id", "")) for b in message.get("blocks") or [])
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary(values: list[float]) -> str:
    return (
        f"p50 {ms(statistics.median(values))}, p99 {ms(percentile(values, 0.99))}, n={len(values)}"
    )


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}"
    )
