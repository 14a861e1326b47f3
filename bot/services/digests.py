"""Daily digests: choose who is due (in their own time zone), claim, compose, send once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.domain.digest import group_events, is_due, local_day
from bot.domain.metrics import activity_horizon
from bot.domain.model import Actor, Deal
from bot.domain.periods import Period
from bot.domain.rules import is_overdue
from bot.services import governance
from bot.services.common import Caller, Ctx
from bot.services.disclosures import record_sent
from bot.services.metrics import home_trend
from bot.services.partnerships import partner_installations, shared_deal_lines
from bot.views.digest import DigestParts, DigestView, HomeView, Nudge

log = logging.getLogger(__name__)

# A process that chose a digest holds it this long; after a crash another process takes over.
LEASE = timedelta(minutes=5)
TZ_RECHECK = timedelta(days=7)
FIRST_DIGEST_LOOKBACK = timedelta(days=1)

Sender = Callable[[str, DigestView], Awaitable[None]]


@dataclass
class DigestReport:
    sent: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def plan_digests(ctx: Ctx, *, hour: int, only: Collection[str] | None = None) -> int:
    """Create today's pending run for every internal trio member whose local digest hour has
    come (hour 0: everyone); any number of processes may do this at once. Returns how many
    people are due."""
    now = ctx.now()
    async with ctx.uow.reads() as uow:
        users = await uow.digests.recipients()
        if only is not None:
            users = [u for u in users if u in only]
        prefs = await uow.digests.prefs(users)
    zones: dict[str, str | None] = {}
    looked_up: list[str] = []
    for user in users:
        pref = prefs.get(user)
        if pref is None or pref.tz_checked_at is None or pref.tz_checked_at < now - TZ_RECHECK:
            zones[user] = await ctx.tz_of(user)
            looked_up.append(user)
        else:
            zones[user] = pref.tz
    due = [
        (u, local_day(now, zones[u]))
        for u in users
        if not (prefs.get(u) and prefs[u].paused) and is_due(now, zones[u], hour)
    ]
    async with ctx.uow() as uow:
        for user in looked_up:
            await uow.digests.put_pref(user, tz=zones[user], tz_checked_at=now)
        await uow.digests.open_runs(due, now)
        await uow.commit()
    return len(due)


async def send_digests(
    ctx: Ctx, send: Sender, *, owner: str, only: Collection[str] | None = None
) -> DigestReport:
    """Claim pending runs nobody else holds, compose them in bulk and send each once."""
    now = ctx.now()
    async with ctx.uow.reads() as uow:
        runs = await uow.digests.runs_to_send(now)
    runs = [(u, d) for u, d in runs if only is None or u in only]
    claimed: list[tuple[str, date]] = []
    async with ctx.uow() as uow:
        for user, day in runs:
            if await uow.digests.claim(user, day, owner=owner, now=now, lease_until=now + LEASE):
                claimed.append((user, day))
        await uow.commit()
    report = DigestReport()
    async for batch, views in compose_batches(ctx, claimed):
        for user, day in batch:
            view = views[user]
            status = "empty" if view.is_empty else "sent"
            if not view.is_empty:
                try:
                    await send(user, view)
                except Exception:  # leave it pending: the lease runs out and a later tick retries
                    log.exception("digest for %s could not be sent; will retry", user)
                    report.failed.append(user)
                    continue
            async with ctx.uow() as uow:
                await uow.digests.finish(user, day, status=status, owner=owner, now=ctx.now())
                await uow.commit()
            (report.empty if view.is_empty else report.sent).append(user)
    return report


# People per composition: their digests are in memory together (their deals are read a chunk
# at a time, `DEAL_CHUNK`, and only what the digests keep of them stays), and a larger morning
# is composed and sent a batch at a time. A deal whose people fall in two batches is read twice,
# and with trios spread over the workspace most deals have people in most batches: 100,000
# people over 500,000 deals took 49 s in batches of 10,000 (each deal read about twice) and
# 24 s in one, at 621 MB (BENCHMARKS.md, "Digests in one pass"). So a batch is as large as
# memory allows: a morning of up to 100,000 people is one pass over their deals.
DIGEST_BATCH = 100_000
# Deals read at a time while composing: bounded memory and IN lists within drivers' limits.
DEAL_CHUNK = 2_000


async def compose_batches(
    ctx: Ctx, runs: list[tuple[str, date]], *, size: int = DIGEST_BATCH
) -> AsyncIterator[tuple[list[tuple[str, date]], dict[str, DigestView]]]:
    """The digests of `runs`, `size` people at a time (the same fixed queries per batch)."""
    for start in range(0, len(runs), size):
        batch = runs[start : start + size]
        yield batch, await compose_many(ctx, batch)


async def compose_many(
    ctx: Ctx, runs: list[tuple[str, date]], *, activation: bool = True
) -> dict[str, DigestView]:
    """Every claimed digest from a fixed number of queries per chunk of deals, however many
    people. The deals are read `DEAL_CHUNK` at a time, each going into the digest of each of its
    people (and into the seller activation of each of them and of its creator), so memory holds
    the digests, not every deal. Without `activation` (the App Home, which shows the metrics'
    own) the alliance line is left out."""
    users = [u for u, _ in runs]
    today = ctx.today()
    # Seller activation as `/ptm metrics` counts it today (bot.domain.metrics): the window's days.
    horizon = activity_horizon(Period(today, today))
    now = ctx.now()
    async with ctx.uow.reads() as uow:
        ids = await uow.deals.open_ids_for_members(users)
        last = await uow.digests.last_sent(users)
        since_all = min([*last.values(), now - FIRST_DIGEST_LOOKBACK])
        parts = {u: DigestParts(u, last.get(u, now - FIRST_DIGEST_LOOKBACK)) for u in users}
        days = dict(runs)
        for start in range(0, len(ids), DEAL_CHUNK):
            chunk = ids[start : start + DEAL_CHUNK]
            events = group_events(await uow.digests.events_since(chunk, since_all))
            acted = await uow.metrics.seller_active(chunk, horizon) if activation else set()
            for deal in await uow.deals.glances(chunk):
                members = {m.user_id for m in deal.trio}
                for user in members | {deal.created_by}:
                    person = parts.get(user)
                    if person is None:
                        continue
                    if user in members:
                        person.add(deal, events.get(deal.id, ()), now=now, today=days[user])
                    person.count_seller(deal, acted=deal.id in acted)
    views = {}
    for user, day in runs:  # each person's parts let go as their view is made: not both at once
        person = parts.pop(user)
        views[user] = person.view(day, person.activation if activation else None)
    return views


async def set_paused(ctx: Ctx, user_id: str, paused: bool) -> None:
    async with ctx.uow() as uow:
        await uow.digests.put_pref(user_id, digests_paused=paused)
        await uow.commit()


async def digest_today(ctx: Ctx, user_id: str) -> tuple[str | None, DigestView]:
    """Today's status of the caller's digest (None, pending, sent, empty) and its content now."""
    async with ctx.uow.reads() as uow:
        prefs = await uow.digests.prefs([user_id])
    tz = prefs[user_id].tz if user_id in prefs else await ctx.tz_of(user_id)
    day = local_day(ctx.now(), tz)
    async with ctx.uow.reads() as uow:
        status = await uow.digests.status_of(user_id, day)
    views = await compose_many(ctx, [(user_id, day)])
    return status, views[user_id]


async def due_nudges(ctx: Ctx, *, hour: int) -> list[Nudge]:
    """Claim today's nudges: one per deal whose open next step an external partner rep owns,
    once their local digest hour has come; only deals with a card to reply on."""
    now = ctx.now()
    async with ctx.uow.reads() as uow:
        deals = [
            d for d in await uow.deals.list_open_with_external_owner() if d.next_step is not None
        ]
        places = await uow.digests.nudge_places([d.id for d in deals])
        prefs = await uow.digests.prefs(
            [d.next_step.owner_user for d in deals if d.next_step and d.next_step.owner_user]
        )
        # Deals nudged already (their claims would fail): skipped without a statement each.
        nudged = await uow.digests.nudged_since(
            [d.id for d in deals], now.date() - timedelta(days=1)
        )
        # A partner company our policy does not show the next step (or whose partnership is
        # paused: nothing new crosses) is not told it either.
        teams = {t for d in deals if (t := _owner_team(d))}
        policies = await governance.policies_for(ctx, uow, teams)
    held = {team for team, policy in policies.items() if not policy.allows("next_step")}
    deals = [d for d in deals if _owner_team(d) not in held]
    via = await partner_installations(ctx, teams - held)
    home = ""
    if via:
        async with ctx.uow.reads() as uow:
            home = (await uow.tenants.names([uow.tenant_id])).get(uow.tenant_id, "")
    nudges = []
    for deal in deals:
        step = deal.next_step
        assert step is not None and step.owner_user is not None
        tz = prefs[step.owner_user].tz if step.owner_user in prefs else None
        if deal.id not in places or not is_due(now, tz, hour):
            continue
        day = local_day(now, tz)
        if (deal.id, day) in nudged:
            continue
        team = _owner_team(deal)
        place = await _place_for(ctx, deal, places[deal.id], team)
        if place is None:
            continue
        async with ctx.uow() as uow:
            claimed = await uow.digests.claim_nudge(deal.id, day, step.owner_user, now)
            if claimed and team:  # the disclosure ledger: what the nudge tells their company
                surface = "dm" if team in via else "reply"
                await record_sent(ctx, uow, deal, ("next_step",), surface, team)
            await uow.commit()
        if claimed:
            channel, ts = place
            nudges.append(
                Nudge(
                    deal.key,
                    channel,
                    ts,
                    step.owner_user,
                    step.text,
                    step.due,
                    is_overdue(step, day),
                    via=via.get(team) if team else None,
                    home=home,
                )
            )
    return nudges


async def _place_for(
    ctx: Ctx, deal: Deal, places: list[tuple[str, str]], team: str | None
) -> tuple[str, str] | None:
    """The card copy to reply on: with several partner companies, one in a channel the step's
    owner's company is in (never one only another partner company reads); else the best."""
    if len(deal.partners) < 2:
        return places[0]
    for channel, ts in places:
        if team is not None and team in await ctx.teams_of_channel(channel):
            return channel, ts
    return None


def _owner_team(deal: Deal) -> str | None:
    """The team of the external member who owns the deal's open next step."""
    step = deal.next_step
    owner = step.owner_user if step else None
    member = next((m for m in deal.trio if m.user_id == owner and m.is_external), None)
    return member.team_id if member else None


async def home_for(ctx: Ctx, user_id: str) -> HomeView:
    """What the App Home shows: the digest's picture, live, with seller activation and its
    trend over the viewer's deals (all deals for an admin); remember who looks at it."""
    async with ctx.uow() as uow:
        await uow.digests.put_pref(user_id, home_opened_at=ctx.now())
        await uow.commit()
    views = await compose_many(ctx, [(user_id, ctx.today())], activation=False)
    # Only our own people have our App Home (Slack shows it to no one from another org).
    viewer = Caller(Actor(user_id, internal=True))
    shared = tuple(await shared_deal_lines(ctx, user_id, surface="home"))
    return HomeView(views[user_id], await home_trend(ctx, viewer), shared)
