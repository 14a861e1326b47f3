"""What every use case shares: who is calling, the ports, finding the deal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.domain.model import (
    Actor,
    Deal,
    NoDealHere,
    NotFound,
    esc,
)
from bot.domain.rules import may_change, require_change_right
from bot.views.models import Reply
from store import UnitOfWork, UowFactory

TeamLookup = Callable[[str], Awaitable[str | None]]
# Whether a channel is shared with another org: True / False, or None when Slack will not say.
SharingLookup = Callable[[str], Awaitable[bool | None]]


@dataclass(frozen=True)
class Caller:
    """Who is asking, where, and which Slack team installed the app (to tell externals)."""

    actor: Actor
    channel_id: str | None = None
    home_team: str | None = None
    home_enterprise: str | None = None


@dataclass(frozen=True)
class TenantDefaults:
    """What a tenant has until its admins change it, and what its admins may change: the
    environment's digest hour and CRM connectors (single workspace: connectors are set there,
    `PTM_CRM_*`; many: each tenant's admins set theirs in App Home)."""

    digest_hour: int = 8
    configured_connectors: Mapping[str, str] = field(default_factory=dict)  # side -> URL
    configured_kinds: Mapping[str, str] = field(default_factory=dict)  # side -> kind
    aws_cosell: bool = False  # PTM_AWS_SOLUTION_ID is set: cards offer *Co-sell with AWS*
    connectors_editable: bool = False
    allow_private_crm: bool = False
    many_workspaces: bool = False
    # The "Add to Slack" page, when PTM knows its own address (SLACK_REDIRECT_URI).
    install_url: str | None = None


async def _no_bot(_user_id: str) -> bool:
    return False


async def _no_teams(_channel_id: str) -> list[str]:
    return []


@dataclass(frozen=True)
class Ctx:
    """The ports a use case needs: storage, time, admins and a user -> team lookup."""

    uow: UowFactory
    today: Callable[[], date]
    now: Callable[[], datetime]
    admins: frozenset[str]
    team_of: TeamLookup
    channel_shared: SharingLookup
    tz_of: Callable[[str], Awaitable[str | None]]
    defaults: TenantDefaults = field(default_factory=TenantDefaults)
    is_bot: Callable[[str], Awaitable[bool]] = _no_bot
    # The other companies' teams in a Slack Connect channel (the disclosure ledger's receivers).
    teams_of_channel: Callable[[str], Awaitable[list[str]]] = _no_teams
    # The same, only if known without asking Slack (None otherwise): usable inside a transaction.
    known_teams_of_channel: Callable[[str], list[str] | None] = lambda _channel: []
    # Seals a connector secret for storage (PTM_SECRET_KEY); None when there is no key.
    seal_secret: Callable[[str], str] | None = None
    # Per-process caches that are safe to lose (rebuilt from the database on a miss).
    cache: dict[str, object] = field(default_factory=dict)


async def admins_of(ctx: Ctx, uow: UnitOfWork) -> frozenset[str]:
    """The tenant's admins now: PTM_ADMINS and the ones stored (read in the caller's own
    transaction, so that an admin removed in another process is no admin here either)."""
    return ctx.admins | await uow.tenants.admins()


async def require_right(ctx: Ctx, uow: UnitOfWork, deal: Deal, actor: Actor) -> None:
    """The trio (the common case) needs no query; anyone else is checked against the admins."""
    if not may_change(deal, actor, ctx.admins):
        require_change_right(deal, actor, await admins_of(ctx, uow))


async def resolve_deal(uow: UnitOfWork, *, number: int | None, caller: Caller) -> Deal:
    """The deal named by key, else the channel's bound deal; errors list the caller's deals."""
    deal = await uow.deals.get(await resolve_deal_id(uow, number=number, caller=caller))
    if deal is None:
        raise NotFound(f"Deal PTM-{number} no longer exists.")
    return deal


async def resolve_deal_id(uow: UnitOfWork, *, number: int | None, caller: Caller) -> int:
    """Like resolve_deal, for a use case that loads the deal itself (a change locks and reads
    it anyway): one small query instead of the whole deal."""
    if number is None and caller.channel_id:
        bound = await uow.bindings.deal_for(caller.channel_id)
        if bound is not None:
            return bound  # a binding always names an existing deal (foreign key)
    if number is not None:
        found = await uow.deals.id_of(number)
        if found is not None:
            return found
    mine = await uow.deals.list_for_user(caller.actor.user_id, limit=10)
    yours = (
        ", ".join(f"{d.key} ({esc(d.name, 40)})" for d in mine)
        or "none yet — start one with `/ptm new`"
    )
    if number is not None:
        raise NotFound(f"There is no deal PTM-{number}. Your open deals: {yours}.")
    raise NoDealHere(
        "This channel has no deal. Name one by key (e.g. `/ptm stage PTM-12 Propose`) "
        f"or run the command in its deal room. Your open deals: {yours}."
    )


# A channel's deal room never changes once bound (a binding is only ever added, and goes only
# with its whole tenant, `ptm org purge`): each process keeps the ones it has looked up, so a
# command in a deal room goes straight to the change's own transaction.
BINDINGS_KEY = "bindings"
BINDINGS_KEPT = 20_000


async def deal_id_for(ctx: Ctx, *, number: int | None, caller: Caller) -> int:
    """`resolve_deal_id` in a read of its own, or none at all for a deal room known here."""
    channel = caller.channel_id if number is None else None
    known = ctx.cache.setdefault(BINDINGS_KEY, {})
    assert isinstance(known, dict)
    if channel and channel in known:
        return int(known[channel])
    async with ctx.uow.reads() as uow:
        bound = await uow.bindings.deal_for(channel) if channel else None
        if bound is None:
            return await resolve_deal_id(uow, number=number, caller=caller)
    if len(known) >= BINDINGS_KEPT:
        known.clear()
    known[channel] = bound
    return bound


def changed_reply(deal: Deal, changed: bool, text: str) -> Reply:
    return Reply(text=text, deal_id=deal.id, changed=changed)
