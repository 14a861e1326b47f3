"""What the benchmarks share: the production use-case context over a given engine, offline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.common import Ctx
from store import make_session_factory, uow_factory


async def _offline(_key: str) -> None:
    """Slack look-ups answer "unknown": benchmarks measure PTM, not the network."""
    return None


def offline_ctx(engine: AsyncEngine, now: datetime) -> Ctx:
    return Ctx(
        uow=uow_factory(make_session_factory(engine)),
        today=lambda: now.date(),
        now=lambda: now,
        admins=frozenset(),
        team_of=_offline,
        channel_shared=_offline,
        tz_of=_offline,
    )
