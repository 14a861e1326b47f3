"""Background work across many tenants: which tenants of a batch have anything to do, found in
a fixed number of queries for the whole batch, never one per tenant. The jobs then run, one
tenant at a time, only for those (with 1,000 idle tenants, a pass costs a handful of queries).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.domain.digest import is_due, local_day
from bot.services.digests import TZ_RECHECK
from bot.services.messages import DEDUPE_KEEP, UNTAKEN_AFTER
from store import UowFactory


async def digest_hours(root: UowFactory, tenant_ids: list[int], default: int) -> dict[int, int]:
    """Each tenant's digest hour (its admins' choice, else `default`), in one query."""
    async with root.unscoped().reads() as uow:
        chosen = await uow.tenants.digest_hours(tenant_ids)
    return {t: default if chosen.get(t) is None else int(chosen[t]) for t in tenant_ids}  # type: ignore[arg-type]


async def tenants_with_digest_work(
    batch: UowFactory, now: datetime, hours: Mapping[int, int]
) -> set[int]:
    """Tenants with a digest or a deal-room nudge that may be due now: someone whose local
    hour has come and who has none for their local day, a run waiting to be sent, or someone
    whose time zone PTM must (re)learn. A false "maybe" costs one tenant's run; a tenant
    left out waits for the next tick, so this errs towards "maybe"."""
    async with batch.reads() as uow:
        work = await uow.digests.work(since=now.date() - timedelta(days=1), now=now)
    busy = set(work.pending)
    for tenant, user in work.recipients:
        if tenant in busy:
            continue
        pref = work.prefs.get((tenant, user))
        if pref is None or pref.tz_checked_at is None or pref.tz_checked_at < now - TZ_RECHECK:
            busy.add(tenant)
        elif not pref.paused and is_due(now, pref.tz, hours[tenant]):
            if (tenant, user, local_day(now, pref.tz)) not in work.runs:
                busy.add(tenant)
    for tenant, deal_id, owner in work.nudge_owners:
        if tenant in busy:
            continue
        pref = work.prefs.get((tenant, owner))
        tz = pref.tz if pref else None
        if (
            is_due(now, tz, hours[tenant])
            and (tenant, deal_id, local_day(now, tz)) not in work.nudged
        ):
            busy.add(tenant)
    return busy


async def tenants_with_due_outbox(batch: UowFactory, now: datetime) -> set[int]:
    async with batch.reads() as uow:
        return await uow.outbox.tenants_with_due(now)


async def tenants_with_open_aws(batch: UowFactory, now: datetime) -> set[int]:  # noqa: ARG001
    async with batch.reads() as uow:
        return await uow.cosell.tenants_with_open()


async def tenants_with_crm_links(batch: UowFactory, now: datetime) -> set[int]:  # noqa: ARG001
    async with batch.reads() as uow:
        return await uow.crm.tenants_linked()


async def tenants_with_stale_cards(batch: UowFactory, now: datetime) -> set[int]:  # noqa: ARG001
    async with batch.reads() as uow:
        return await uow.copies.tenants_with_stale_copies()


async def tenants_with_stalled_mentions(batch: UowFactory, now: datetime) -> set[int]:
    async with batch.reads() as uow:
        return await uow.events.tenants_with_stalled(now=now, received_before=now - UNTAKEN_AFTER)


async def prune_dedupe_batch(batch: UowFactory, now: datetime) -> int:
    """Forget the dedupe records past Slack's retry window of every tenant in one statement."""
    async with batch() as uow:
        removed = await uow.events.prune(older_than=now - DEDUPE_KEEP)
        await uow.commit()
    return removed


async def refresh_statistics(root: UowFactory) -> None:
    """The database's query-planner statistics, refreshed (hourly, and at start: see
    UnitOfWork.refresh_statistics); touches no company's rows."""
    async with root.unscoped()() as uow:
        await uow.refresh_statistics()
        await uow.commit()
