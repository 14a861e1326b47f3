"""Card copies: where each deal's card is shown, for which audience, and what it last showed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.model import NotFound
from bot.services import disclosures, governance
from bot.services.common import Ctx
from bot.services.cosell import status_of
from bot.views.deal_views import card_view, several_partners
from bot.views.models import CardRender, CardView, CopyTarget
from store import UnitOfWork
from store.copies import ChannelInfo

# How long what we know of a channel's sharing is trusted before asking Slack again. The
# channel_shared / channel_unshared events refresh it at once, but an event can be missed, and
# the two mistakes do not cost the same: "shared" when it no longer is only hides internal
# fields for a while, so it is trusted for hours; "ours only" would show internal fields to
# another company, so it is trusted only when freshly checked.
SHARED_TTL = timedelta(hours=6)
INTERNAL_TTL = timedelta(seconds=60)
# When Slack would not say, ask again only after this long (the copy stays "shared" meanwhile).
UNKNOWN_TTL = timedelta(minutes=5)


def _ttl(is_ext_shared: bool | None) -> timedelta:
    if is_ext_shared is None:
        return UNKNOWN_TTL
    return SHARED_TTL if is_ext_shared else INTERNAL_TTL


def _fresh_sharing(
    known: dict[str, ChannelInfo], channel_ids: Sequence[str], now: datetime
) -> dict[str, bool | None] | None:
    """Every channel's sharing if the database knows it all and none of it is stale (what
    `sharing_of` would answer without asking Slack); None otherwise."""
    found: dict[str, bool | None] = {}
    for channel_id in channel_ids:
        info = known.get(channel_id)
        if info is None or info.checked_at <= now - _ttl(info.is_ext_shared):
            return None
        found[channel_id] = info.is_ext_shared
    return found


async def sharing_of(
    ctx: Ctx, channel_ids: Sequence[str], *, known: dict[str, ChannelInfo] | None = None
) -> dict[str, bool | None]:
    """Each channel's sharing, from the database (or `known`, already read from it), asking
    Slack when unknown or stale."""
    if known is None:
        async with ctx.uow.reads() as uow:
            known = await uow.channels.get_many(channel_ids)
    now = ctx.now()
    result: dict[str, bool | None] = {}
    for channel_id in dict.fromkeys(channel_ids):
        info = known.get(channel_id)
        if info is not None and info.checked_at > now - _ttl(info.is_ext_shared):
            result[channel_id] = info.is_ext_shared
            continue
        result[channel_id] = await refresh_sharing(ctx, channel_id)
    return result


async def refresh_sharing(ctx: Ctx, channel_id: str, shared: bool | None = None) -> bool | None:
    """Ask Slack (unless told) whether a channel is shared, and store the answer on its copies."""
    if shared is None:
        shared = await ctx.channel_shared(channel_id)
    async with ctx.uow() as uow:
        await uow.channels.put(channel_id, shared, ctx.now())
        await uow.commit()
    return shared


async def deals_shown_in(ctx: Ctx, channel_id: str) -> list[int]:
    async with ctx.uow.reads() as uow:
        return await uow.channels.deals_shown_in(channel_id)


async def card_for_channel(ctx: Ctx, deal_id: int, channel_id: str) -> tuple[CardView, bool | None]:
    """The card as it may be shown in `channel_id`, and that channel's sharing; a copy for a
    channel that may be shared is in the disclosure ledger before it is posted."""
    shared = (await sharing_of(ctx, [channel_id]))[channel_id]
    async with ctx.uow.reads() as uow:
        deal = await _deal(uow, deal_id)
        crm = (await uow.outbox.latest_states([deal_id])).get(deal_id)
        aws = await _aws_line(ctx, uow, deal_id)
    card = card_view(
        deal, ctx.today(), internal=shared is False, crm=crm, aws=aws,
        aws_offered=ctx.defaults.aws_cosell,
    )  # fmt: skip
    if shared is not False:
        card = (await _governed_after(ctx, card, {channel_id: shared})).get(channel_id, card)
        await disclosures.record_card(ctx, {channel_id: card})
    return card, shared


async def record_copy(
    ctx: Ctx, card: CardView, channel_id: str, ts: str, *, shared: bool | None, actor: str
) -> int:
    """Track a posted card message; returns the deal's current version (newer = re-sync)."""
    async with ctx.uow() as uow:
        await uow.copies.add(
            deal_id=card.deal_id,
            channel_id=channel_id,
            ts=ts,
            version=card.version,
            actor=actor,
            now=ctx.now(),
            is_shared=shared,
        )
        version = await uow.deals.version_of(card.deal_id)
        await uow.commit()
    return version or card.version


# A pass that outlives this (Slack retrying for half a minute) may overlap another process's.
CARD_SYNC_LEASE = timedelta(seconds=30)


async def start_card_pass(ctx: Ctx, deal_id: int, owner: str) -> CardRender | None:
    """Become the one process updating this deal's copies (see CardSyncLeaseRow) and read the
    latest state rendered for every copy's audience, in one transaction; None when another
    process holds the lease. Slack is asked (outside the transaction) only about channels
    whose sharing is unknown or stale."""
    now = ctx.now()
    async with ctx.uow() as uow:
        if not await uow.copies.claim_sync(
            deal_id, owner=owner, now=now, until=now + CARD_SYNC_LEASE
        ):
            return None
        copies, known = await uow.copies.list_with_channels(deal_id)
        found = await uow.deals.get_with_home_viewers(deal_id)
        if found is None:
            raise NotFound(f"Deal {deal_id} no longer exists.")
        deal, viewers = found
        crm = (await uow.outbox.latest_states([deal_id])).get(deal_id)
        aws = await _aws_line(ctx, uow, deal_id)
        today = ctx.today()
        shared_card = card_view(deal, today, internal=False, crm=crm, aws=aws)
        fresh = _fresh_sharing(known, [c.channel_id for c in copies], ctx.now())
        # The common case: who is in each shared channel is known without asking Slack, so
        # the policy of each partner company and the ledger are settled in this transaction.
        teams = _teams_known(ctx, fresh)
        governed: dict[str, CardView] | None = None
        if teams is not None:
            governed = await governance.governed_copies(ctx, uow, shared_card, teams)
            await disclosures.record_in_pass(ctx, uow, shared_card, governed, teams)
        await uow.commit()
    sharing = await sharing_of(ctx, [c.channel_id for c in copies], known=known)
    if governed is None:
        governed = await _governed_after(ctx, shared_card, sharing)
    return CardRender(
        deal_id=deal.id,
        version=deal.version,
        internal=card_view(
            deal, today, internal=True, crm=crm, aws=aws, aws_offered=ctx.defaults.aws_cosell
        ),
        shared=shared_card,
        disclosed=teams is not None,
        governed=governed,
        targets=tuple(
            CopyTarget(c.id, c.channel_id, c.ts, sharing[c.channel_id] is False, c.rendered_version)
            for c in copies
        ),
        home_viewers=tuple(viewers),
        partner_viewers=tuple(
            (m.team_id, m.user_id) for m in deal.trio if m.is_external and m.team_id
        ),
    )


def _teams_known(ctx: Ctx, fresh: dict[str, bool | None] | None) -> dict[str, list[str]] | None:
    """The other companies in each shared channel, if known without asking Slack."""
    if fresh is None:
        return None
    teams = {}
    for channel, shared in fresh.items():
        if shared is False:
            continue
        found = ctx.known_teams_of_channel(channel)
        if found is None:
            return None
        teams[channel] = found
    return teams


async def _governed_after(
    ctx: Ctx, card: CardView, sharing: dict[str, bool | None]
) -> dict[str, CardView]:
    """Outside the pass's transaction, asking Slack who is in each shared channel (only when a
    partnership or several partner companies can change a copy)."""
    if not ctx.defaults.many_workspaces and not several_partners(card):
        return {}
    teams = {
        c: await ctx.teams_of_channel(c) for c, shared in sharing.items() if shared is not False
    }
    async with ctx.uow.reads() as uow:
        return await governance.governed_copies(ctx, uow, card, teams)


async def end_card_pass(
    ctx: Ctx, deal_id: int, owner: str, version: int, sent: list[int], gone: list[int]
) -> bool:
    """Record the copies sent `version`, stop tracking those gone from Slack, and end our
    lease, in one transaction; False (lease kept) when another process asked for one more
    pass meanwhile."""
    async with ctx.uow() as uow:
        for copy_id in gone:
            await uow.copies.remove(copy_id)
        done = await uow.copies.end_pass(
            deal_id, owner=owner, sent=sent, version=version, until=ctx.now() + CARD_SYNC_LEASE
        )
        await uow.commit()
    return done


async def deals_with_stale_copies(ctx: Ctx) -> list[int]:
    async with ctx.uow.reads() as uow:
        return await uow.copies.deals_with_stale_copies()


async def release_card_sync(ctx: Ctx, deal_ids: list[int], owner: str) -> None:
    async with ctx.uow() as uow:
        await uow.copies.release_sync(deal_ids, owner=owner)
        await uow.commit()


async def hand_over_card_sync(ctx: Ctx, deal_id: int) -> bool:
    """Another process holds the deal's lease: ask it to pass again (our change may be newer
    than what its pass read). False when no one holds it any more."""
    async with ctx.uow() as uow:
        asked = await uow.copies.mark_sync_dirty(deal_id, now=ctx.now())
        await uow.commit()
    return asked


async def release_claims(ctx: Ctx, owner: str) -> int:
    """At shutdown: give back every claim this process still holds (digest runs, CRM
    deliveries, card-update leases), so other processes take the work over at once instead
    of after the leases run out. Returns how many were released."""
    async with ctx.uow() as uow:
        released = await uow.digests.release(owner)
        released += await uow.outbox.release(owner)
        released += await uow.copies.release_sync(None, owner=owner)
        await uow.commit()
    return released


async def _deal(uow: UnitOfWork, deal_id: int):  # type: ignore[no-untyped-def]
    deal = await uow.deals.get(deal_id)
    if deal is None:
        raise NotFound(f"Deal {deal_id} no longer exists.")
    return deal


async def _aws_line(ctx: Ctx, uow: UnitOfWork, deal_id: int) -> str | None:
    """The deal's AWS co-sell state for the card (one indexed read, when co-sell is on)."""
    if not ctx.defaults.aws_cosell:
        return None
    submission = await uow.cosell.of_deal(deal_id)
    if submission is None or (submission.step == "draft" and not submission.problem):
        return None
    return status_of(submission).line()


async def take_update_tokens(ctx: Ctx, want: int, extra: int, *, rate: float, burst: int) -> int:
    """Tokens of this workspace's `chat.update` budget (see bot.app.budget), from the bucket
    every process shares: how many were granted."""
    async with ctx.uow() as uow:
        got = await uow.budget.take(
            "chat.update", want, rate=rate, burst=burst, now=ctx.now(), extra=extra
        )
        await uow.commit()
    return got
