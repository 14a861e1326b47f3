"""Shared fixtures: the fake Slack Web API, databases (SQLite always, PostgreSQL when
PTM_TEST_DATABASE_URL is set) and a running bot."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

import store.models  # noqa: F401
from tests.fakes.slack_api import FakeSlack
from tests.support.databases import fresh_postgres
from tests.support.harness import RunningBot, start_bot

PG_URL = os.environ.get("PTM_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.users.update({"USELLER": "T0URS", "UALLY": "T0URS", "UPARTNER": "TPARTNER"})
    await fake.start()
    yield fake
    await fake.stop()
    assert not fake.invalid, f"invalid Block Kit sent to Slack: {fake.invalid}"


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/ptm.db"


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "postgresql":
        assert PG_URL
        await fresh_postgres(PG_URL)
        return PG_URL
    return sqlite_url


@pytest.fixture
async def bot(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    running = await start_bot(fake_slack, sqlite_url)
    yield running
    await running.stop()


@pytest.fixture
async def live_bot(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    """The bot as in production: it answers Slack at the ack and works on afterwards."""
    from bot.app.cardsync import SyncTuning
    from tests.support.harness import AMPLE

    running = await start_bot(
        fake_slack,
        sqlite_url,
        process_before_response=False,
        tuning=SyncTuning(debounce=0.3, retry_base=0.05, retry_cap=0.2, budget=AMPLE),
    )
    yield running
    await running.stop()
