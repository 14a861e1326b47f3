"""The shared `chat.update` bucket (store.budget): a taker that brings an earlier time than the
last one wrote (it read its clock before the row's lock was its own, or its process's clock
lags) refills nothing, and does not move the bucket's time back to refill that interval twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from store import create_schema, make_engine
from tests.support.databases import tenant_uows

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    await create_schema(engine)
    yield engine
    await engine.dispose()


async def test_a_late_taker_with_an_earlier_time_refills_nothing_twice(engine: AsyncEngine) -> None:
    uows = await tenant_uows(engine)

    async def take(want: int, at: datetime) -> int:
        async with uows() as uow:
            got = await uow.budget.take("chat.update", want, rate=1.0, burst=5, now=at)
            await uow.commit()
        return got

    assert await take(5, NOW) == 5  # the full bucket, emptied
    assert await take(5, NOW + timedelta(seconds=10)) == 5  # refilled (to its burst), emptied
    # A taker whose clock read 8 s earlier: nothing has refilled since the last taker's time.
    assert await take(5, NOW + timedelta(seconds=2)) == 0
    # One second after the last time: one token, not the 9 an earlier bucket time would give.
    assert await take(5, NOW + timedelta(seconds=11)) == 1
