"""Run the real PTM app over HTTP on a random port, wired to the fake Slack Web API."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from bot.adapters.server import EVENTS_PATH, make_web_app
from bot.app.budget import BudgetTuning
from bot.app.cardsync import SyncTuning
from bot.app.config import load_settings
from bot.app.crm_inbound import candidates_of, crm_inbound
from bot.app.factory import Runtime, build_runtime
from bot.app.scheduling import Background, start_background
from tests.fakes.clock import FixedClock
from tests.fakes.slack_api import FakeSlack
from tests.support.slack_requests import SECRET, Inbound


def env_for(fake: FakeSlack, db_url: str, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": db_url,
        **extra,
    }


@dataclass
class RunningBot:
    fake: FakeSlack
    slack: Inbound
    runtime: Runtime
    runner: web.AppRunner
    clock: FixedClock
    background: Background
    # Fake Slack's clock when the bot had started (calls after it are the tests' doing).
    started_at: float = 0.0
    base_url: str = ""  # the bot's HTTP server (POST /crm/salesforce, /crm/hubspot)

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.background.stop(grace=1)
        await self.background.release_claims()
        await self.runtime.close()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.runtime.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).all())

    async def write(self, sql: str, **params: Any) -> None:
        """Change rows behind PTM's back (a test's way to set up a state)."""
        async with self.runtime.engine.begin() as conn:
            await conn.execute(sa.text(sql), params)

    def card(self, channel: str, ts: str) -> dict[str, Any]:
        return self.fake.message(channel, ts)

    def posted_cards(self) -> list[tuple[str, str]]:
        return [k for k, v in self.fake.messages.items() if is_card(v)]


def is_card(message: dict[str, Any]) -> bool:
    """A deal card (its controls block), not an answer that merely carries a button."""
    return any(
        b.get("type") == "actions" and ":controls:" in str(b.get("block_id", ""))
        for b in message.get("blocks") or []
    )


# Tests answer after the whole listener ran, so no debounce; failed copies retry quickly; the
# workspace's update budget is taken as in production, but ample (tests of it set their own).
AMPLE = BudgetTuning(rate=10_000, burst=10_000)
TEST_TUNING = SyncTuning(debounce=0, retry_base=0.05, retry_cap=0.2, home_delay=0.3, budget=AMPLE)


async def start_bot(
    fake: FakeSlack,
    db_url: str,
    *,
    clock: FixedClock | None = None,
    tuning: SyncTuning = TEST_TUNING,
    process_before_response: bool = True,
    **env: str,
) -> RunningBot:
    clock = clock or FixedClock()
    settings = load_settings(env_for(fake, db_url, **env))
    runtime = await build_runtime(
        settings,
        clock=clock,
        tuning=tuning,
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=True,
    )
    crm = crm_inbound(candidates_of(runtime.deps, runtime.tenants))
    runner = web.AppRunner(
        make_web_app(runtime.app, runtime.engine, signing_secret=SECRET, crm=crm)
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    inbound = Inbound(f"http://127.0.0.1:{port}{EVENTS_PATH}", response_url=fake.response_url())
    background = start_background(
        runtime.deps, digests=False, tenants=runtime.tenants
    )  # as `python app.py` does
    return RunningBot(
        fake, inbound, runtime, runner, clock, background, time.time(), f"http://127.0.0.1:{port}"
    )
