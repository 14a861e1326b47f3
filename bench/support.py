"""What the benchmarks share: the production use-case context over a given engine, offline."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.services.common import Ctx
from store import make_session_factory, uow_factory
from store.tenant_models import TenantRow


async def _offline(_key: str) -> None:
    """Slack look-ups answer "unknown": benchmarks measure PTM, not the network."""
    return None


BENCH_TENANT = 1  # the one company a single-tenant data set belongs to


async def add_bench_tenant(conn: AsyncConnection, now: datetime) -> None:
    """The tenant every row of a benchmark's data set belongs to (`tenant_id` 1)."""
    await conn.execute(
        sa.insert(TenantRow).values(
            id=BENCH_TENANT, team_id="T0URS", name="Bench", next_deal_number=1, created_at=now
        )
    )


def offline_ctx(engine: AsyncEngine, now: datetime) -> Ctx:
    return Ctx(
        uow=uow_factory(make_session_factory(engine), tenant_id=BENCH_TENANT),
        today=lambda: now.date(),
        now=lambda: now,
        admins=frozenset(),
        team_of=_offline,
        channel_shared=_offline,
        tz_of=_offline,
    )


def peak_rss_mb() -> float:
    """This process's own peak resident memory, in MB. Linux's `ru_maxrss` carries a forked
    child's parent's peak across fork and exec (a child started from a 230 MB parent reports
    at least that); `VmHWM` in /proc/self/status is the high-water mark of this process's own
    memory since its exec. `ru_maxrss` only where /proc is not there."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
