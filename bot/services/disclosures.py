"""The disclosure ledger: every value about to be shown or sent outside the tenant is recorded
first (a crash after the record and before the send over-reports; nothing leaves unrecorded).

Receiving company: the other team(s) of the Slack Connect channel (with a PTM tenant's name when
that company installed PTM too); for the partner's CRM, the partner rep's team. "" when Slack
does not say.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta

from bot.domain.model import BadInput, Deal
from bot.domain.partnership import governed_field
from bot.services.common import Caller, Ctx
from bot.views.deal_views import metadata_fields, shared_card_fields
from bot.views.models import CardRender, CardView
from store import UnitOfWork
from store.disclosures import Disclosed, Disclosure

CSV_HEADER = ("at", "deal", "field", "version", "surface", "receiving_team", "receiving_company")
HOME_DAYS = 30
COMPANY_KEPT = timedelta(minutes=5)


async def _company(ctx: Ctx, uow: UnitOfWork, team: str) -> str:
    """The name of the company behind `team` if it installed PTM too ("" if not); kept per
    process a few minutes (a company's name hardly changes, and every shared pass asks)."""
    key = f"company:{team}"
    kept = ctx.cache.get(key)
    now = ctx.now()
    if isinstance(kept, tuple) and now - kept[0] < COMPANY_KEPT:
        return str(kept[1])
    tenant = await uow.tenants.by_team(team)
    row = await uow.tenants.get(tenant) if tenant is not None else None
    name = row.name if row is not None else ""
    ctx.cache[key] = (now, name)
    return name


async def _named(ctx: Ctx, uow: UnitOfWork, teams: list[str]) -> list[tuple[str, str]]:
    return [(team, await _company(ctx, uow, team)) for team in teams] or [("", "")]


async def _receivers(ctx: Ctx, uow: UnitOfWork, channel_id: str) -> list[tuple[str, str]]:
    return await _named(ctx, uow, await ctx.teams_of_channel(channel_id))


async def record_in_pass(
    ctx: Ctx,
    uow: UnitOfWork,
    card: CardView,
    governed: Mapping[str, CardView],
    teams_by_channel: Mapping[str, list[str]],
) -> None:
    """Record a card pass's shared copies inside the pass's own transaction (who is in each
    channel known without asking Slack: the common case), each as its channel sees it."""
    rows = []
    for channel in sorted(teams_by_channel):
        view = governed.get(channel, card)
        rows += _card_rows(view, channel, await _named(ctx, uow, teams_by_channel[channel]))
    await uow.disclosures.record(rows, ctx.now())


def _card_rows(
    card: CardView, channel_id: str, receivers: Iterable[tuple[str, str]]
) -> list[Disclosure]:
    rows = []
    for team, company in receivers:
        for surface, fields in (
            ("card", shared_card_fields(card)),
            ("metadata", metadata_fields(card)),
        ):
            rows += [
                Disclosure(card.deal_id, f, card.version, surface, team, company, channel_id)
                for f in fields
            ]
    return rows


async def record_card(ctx: Ctx, copies: Mapping[str, CardView]) -> None:
    """Shared copies (channel -> the card as that channel sees it, with its metadata) are
    about to be sent."""
    if not copies:
        return
    async with ctx.uow() as uow:
        rows = []
        for channel in sorted(copies):
            rows += _card_rows(copies[channel], channel, await _receivers(ctx, uow, channel))
        await uow.disclosures.record(rows, ctx.now())
        await uow.commit()


async def record_fields(
    ctx: Ctx, deal_id: int, version: int, fields: Iterable[str], surface: str, channel_id: str
) -> None:
    """Some of a deal's fields are about to be shown in a channel that may be shared."""
    async with ctx.uow() as uow:
        rows = [
            Disclosure(deal_id, f, version, surface, team, company, channel_id)
            for team, company in await _receivers(ctx, uow, channel_id)
            for f in fields
        ]
        await uow.disclosures.record(rows, ctx.now())
        await uow.commit()


async def record_sent(
    ctx: Ctx, uow: UnitOfWork, deal: Deal, fields: Iterable[str], surface: str, team: str
) -> None:
    """A reply or DM to a person of another company (`team`) tells them these fields; recorded
    in the caller's transaction, so that it is in the ledger exactly when it was sent."""
    company = await _company(ctx, uow, team)
    rows = [Disclosure(deal.id, f, deal.version, surface, team, company) for f in fields]
    await uow.disclosures.record(rows, ctx.now())


async def record_answer(ctx: Ctx, caller: Caller, deal_id: int) -> None:
    """A change made by someone of another company is confirmed to them in words: the deal's
    name and what changed (as the change's audit entry names it), at the new version."""
    team = caller.actor.team_id
    if caller.actor.internal or not team:
        return
    async with ctx.uow() as uow:
        recent = await uow.deals.recent_events(deal_id, limit=5)
        # Theirs, not one that landed a moment later.
        event = next((e for e in recent if e.actor == caller.actor.user_id), None)
        if event is None:
            return
        told = {"name"} | {f for key in event.changes if (f := governed_field(key)) is not None}
        company = await _company(ctx, uow, team)
        rows = [Disclosure(deal_id, f, event.version, "reply", team, company) for f in sorted(told)]
        await uow.disclosures.record(rows, ctx.now())
        await uow.commit()


async def record_card_pass(ctx: Ctx, render: CardRender) -> None:
    """Before a pass sends: its shared copies, unless the pass recorded them already."""
    if render.disclosed:
        return
    await record_card(
        ctx, {t.channel_id: render.view_for(t) for t in render.targets if not t.internal}
    )


def crm_rows(deal: Deal, fields: Iterable[str], team: str | None) -> list[Disclosure]:
    """What goes to a partner company's CRM, to that company (its team, if known)."""
    return [Disclosure(deal.id, f, deal.version, "crm", team or "", "") for f in fields]


def _day(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC)
    except ValueError:
        raise BadInput(f"`--since` is a date like 2026-11-01, not `{raw[:20]}`.") from None


async def listing(
    ctx: Ctx, *, to: str | None, deal_number: int | None, since: str | None
) -> list[Disclosed]:
    async with ctx.uow.reads() as uow:
        return await uow.disclosures.listing(to=to, deal_number=deal_number, since=_day(since))


def to_csv(rows: Iterable[Disclosed]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            (r.at.isoformat(), r.deal_key, r.field, r.version, r.surface, r.receiving_team,
             r.receiving_company)
        )  # fmt: skip
    return out.getvalue()


async def home_summary(ctx: Ctx) -> list[tuple[str, str, int, int, datetime]]:
    async with ctx.uow.reads() as uow:
        return await uow.disclosures.summary(ctx.now() - timedelta(days=HOME_DAYS))
