"""A tenant's settings, changed by its admins in App Home: admins, digest hour, CRM connectors.

Each change is one transaction on the tenant's row lock, audited (who, what, when; never a
secret) in `tenant_events`. The answers are the notice the admin sees on their Home.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain import admin as rules
from bot.domain.crm import KIND_LABELS, ConnectorConfig, CrmKind
from bot.domain.model import BadInput, Conflict, esc, is_our_org
from bot.domain.outbox import Side
from bot.services.common import Caller, Ctx, admins_of
from bot.views.admin import (
    AdminLine,
    AdminView,
    ConnectorForm,
    ConnectorLine,
    DisclosedTo,
    SettingsEvent,
)
from bot.views.partnerships import PartnershipLine
from store import UnitOfWork

RECENT_CHANGES = 5
DISCLOSED_WINDOW = timedelta(days=30)
MAX_DISCLOSED = 5


async def is_admin(ctx: Ctx, user_id: str) -> bool:
    async with ctx.uow.reads() as uow:
        return user_id in await admins_of(ctx, uow)


async def admin_view(ctx: Ctx, user_id: str) -> AdminView | None:
    """The settings section of `user_id`'s App Home; None unless they are an admin."""
    async with ctx.uow.reads() as uow:
        stored = await uow.tenants.admin_entries()
        if user_id not in ctx.admins | {e.user_id for e in stored}:
            return None
        hour = await uow.tenants.digest_hour()
        see_each_other = await uow.tenants.partners_see_each_other()
        connectors = await uow.tenants.connectors()
        health = await uow.crm.health()
        trail = await uow.tenants.audit_trail(RECENT_CHANGES)
        partnerships = None
        if ctx.defaults.many_workspaces:
            partnerships = tuple(
                PartnershipLine(p, name, by, at)
                for p, name, by, at in await uow.partnerships.lines()
            )
        tenant = uow.tenant_id
        disclosed = await uow.disclosures.summary(ctx.now() - DISCLOSED_WINDOW)
    configured = ctx.admins
    stored_ids = [e.user_id for e in stored]
    lines = [AdminLine(u, None, None, removable=False) for u in sorted(configured)]
    for entry in stored:
        if entry.user_id in configured:
            continue
        try:
            rules.check_removal(entry.user_id, stored=stored_ids, configured=configured)
            removable = True
        except BadInput:
            removable = False
        lines.append(AdminLine(entry.user_id, entry.added_by, entry.added_at, removable))
    defaults = ctx.defaults
    return AdminView(
        admins=tuple(lines),
        digest_hour=defaults.digest_hour if hour is None else hour,
        digest_hour_is_default=hour is None,
        connectors=tuple(
            replace(
                _connector_line(ctx, side, connectors.get(side.value)),
                attention=(
                    health[side.value].detail
                    if side.value in health and health[side.value].needs_attention
                    else None
                ),
            )
            for side in Side
        ),
        recent=tuple(
            SettingsEvent(at, actor, _describe(action, detail))
            for at, actor, action, detail in trail
        ),
        partnerships=partnerships,
        tenant=tenant,
        disclosed=tuple(DisclosedTo(*row) for row in disclosed[:MAX_DISCLOSED]),
        partners_see_each_other=see_each_other,
    )


def _connector_line(ctx: Ctx, side: Side, stored: object) -> ConnectorLine:
    defaults = ctx.defaults
    configured = defaults.configured_connectors.get(side.value)
    if not defaults.connectors_editable or stored is None:
        return ConnectorLine(
            side.value,
            defaults.configured_kinds.get(side.value, "webhook") if configured else None,
            configured,
            0,
            configured=configured is not None,
            editable=defaults.connectors_editable,
        )
    return ConnectorLine(
        side.value,
        stored.kind,  # type: ignore[attr-defined]
        stored.url,  # type: ignore[attr-defined]
        stored.version,  # type: ignore[attr-defined]
        configured=False,
        editable=True,
        updated_by=stored.updated_by,  # type: ignore[attr-defined]
    )


def _describe(action: str, detail: dict[str, object]) -> str:
    who = f"<@{detail.get('user')}>" if detail.get("user") else ""
    side = (
        rules.SIDE_NAMES.get(Side(str(detail["side"]))) if detail.get("side") in set(Side) else ""
    )
    return {
        "admin_added": f"made {who} an admin",
        "admin_removed": f"removed {who} as admin",
        "digest_hour": f"set the digest hour to {detail.get('hour')}",
        "partners_see_each_other": "let partner companies on one deal see each other"
        if detail.get("visible")
        else "hid partner companies on one deal from each other",
        "crm_connector_set": f"set {side} to `{esc(str(detail.get('url')), 200)}`",
        "crm_connector_removed": f"disconnected {side}",
    }.get(action, action)


async def _as_admin(ctx: Ctx, uow: UnitOfWork, caller: Caller) -> frozenset[str]:
    """Lock the tenant's settings and check the caller may change them; the admins now."""
    await uow.tenants.lock_own()
    admins = await admins_of(ctx, uow)
    rules.require_admin(caller.actor.user_id, internal=caller.actor.internal, admins=admins)
    return admins


async def set_partners_see_each_other(ctx: Ctx, caller: Caller, visible: bool) -> str:
    """Whether the partner companies on one deal see each other (by company and role) or not
    at all; every shared card shows the new setting from its next update."""
    async with ctx.uow() as uow:
        await _as_admin(ctx, uow, caller)
        await uow.tenants.set_partners_see_each_other(visible)
        await uow.tenants.audit(
            actor=caller.actor.user_id, action="partners_see_each_other",
            detail={"visible": visible}, now=ctx.now(),
        )  # fmt: skip
        await uow.commit()
    if visible:
        return "Partner companies on one deal now see each other by company and role."
    return "Partner companies on one deal no longer see each other at all."


async def add_admin(ctx: Ctx, caller: Caller, user_id: str) -> str:
    team = await ctx.team_of(user_id) if user_id else None
    internal = is_our_org(team, home_team=caller.home_team, home_enterprise=caller.home_enterprise)
    is_bot = await ctx.is_bot(user_id) if user_id else False
    async with ctx.uow() as uow:
        admins = await _as_admin(ctx, uow, caller)
        rules.check_new_admin(user_id, internal=internal, is_bot=is_bot, admins=admins)
        now = ctx.now()
        await uow.tenants.add_admin(user_id, added_by=caller.actor.user_id, now=now)
        await uow.tenants.audit(
            actor=caller.actor.user_id, action="admin_added", detail={"user": user_id}, now=now
        )
        await uow.commit()
    return f"<@{user_id}> is a PTM admin now: they can change any deal and these settings."


async def remove_admin(ctx: Ctx, caller: Caller, user_id: str) -> str:
    async with ctx.uow() as uow:
        await _as_admin(ctx, uow, caller)
        stored = [e.user_id for e in await uow.tenants.admin_entries()]
        rules.check_removal(user_id, stored=stored, configured=ctx.admins)
        now = ctx.now()
        await uow.tenants.remove_admin(user_id)
        await uow.tenants.audit(
            actor=caller.actor.user_id, action="admin_removed", detail={"user": user_id}, now=now
        )
        await uow.commit()
    if user_id == caller.actor.user_id:
        return "You are no longer a PTM admin here."
    return f"<@{user_id}> is no longer a PTM admin."


async def set_digest_hour(ctx: Ctx, caller: Caller, raw: str) -> str:
    hour = rules.parse_digest_hour(raw)
    async with ctx.uow() as uow:
        await _as_admin(ctx, uow, caller)
        now = ctx.now()
        await uow.tenants.set_digest_hour(hour)
        await uow.tenants.audit(
            actor=caller.actor.user_id, action="digest_hour", detail={"hour": hour}, now=now
        )
        await uow.commit()
    return (
        f"Digests now go out at {rules.hour_label(hour)} in each person's own time zone "
        "(from the next one on; nobody gets two on one day)."
    )


async def digest_hour(ctx: Ctx) -> int:
    """The hour this tenant's digests go out (its admins' choice, else the default)."""
    async with ctx.uow.reads() as uow:
        hour = await uow.tenants.digest_hour()
    return ctx.defaults.digest_hour if hour is None else hour


def _side(raw: str) -> Side:
    try:
        return Side(raw)
    except ValueError:
        raise BadInput(f"There is no CRM side `{raw[:20]}`: it is `ours` or `partner`.") from None


async def connector_form(ctx: Ctx, caller: Caller, raw_side: str) -> ConnectorForm:
    side = _side(raw_side)
    if not ctx.defaults.connectors_editable:
        raise BadInput(
            "With one workspace the CRM connectors are set by environment variables "
            f"(`PTM_CRM_{side.name}_URL`, `PTM_CRM_{side.name}_SECRET`)."
        )
    async with ctx.uow.reads() as uow:
        rules.require_admin(
            caller.actor.user_id, internal=caller.actor.internal, admins=await admins_of(ctx, uow)
        )
        stored = (await uow.tenants.connectors()).get(side.value)
    if stored is None:
        return ConnectorForm(side.value, rules.ConnectorKind.WEBHOOK.value, "", False, 0)
    return ConnectorForm(
        side.value, stored.kind, stored.url, True, stored.version,
        client_id=stored.client_id, has_webhook_secret=bool(stored.webhook_secret),
    )  # fmt: skip


async def set_connector(
    ctx: Ctx,
    caller: Caller,
    raw_side: str,
    *,
    kind: str,
    url: str,
    secret: str | None,
    seen_version: int,
    client_id: str = "",
    webhook_secret: str | None = None,
) -> str:
    """Set (or, with an empty URL, remove) one side's connector, unless another admin changed
    it since the form was opened. The secret is sealed before it reaches the database."""
    side = _side(raw_side)
    name = rules.SIDE_NAMES[side]
    if kind not in set(rules.ConnectorKind):
        raise BadInput(f"PTM does not know the connector kind `{kind[:20]}`.")
    crm_kind = rules.ConnectorKind(kind)
    removing = not url.strip() and crm_kind not in rules.URL_OPTIONAL
    if removing and seen_version == 0:
        raise BadInput(
            f"Type the {rules.URL_NAMES[crm_kind]} of {name}, e.g. "
            f"`{rules.URL_EXAMPLES[crm_kind]}`."
        )
    if not removing:
        typed = rules.check_connector(
            crm_kind, url, secret, client_id=client_id, webhook_secret=webhook_secret,
            has_secret=seen_version > 0, allow_private=ctx.defaults.allow_private_crm,
        )  # fmt: skip
        url, secret = typed.url, typed.secret
    if ctx.seal_secret is None:
        raise BadInput("PTM has no PTM_SECRET_KEY to keep a connector secret with.")
    async with ctx.uow() as uow:
        await _as_admin(ctx, uow, caller)
        now = ctx.now()
        if removing:
            done = await uow.tenants.drop_connector(side.value, seen_version=seen_version)
            action, detail = "crm_connector_removed", {"side": side.value}
        else:
            sealed = ctx.seal_secret(secret) if secret else None
            inbound = typed.webhook_secret
            done = await uow.tenants.put_connector(
                side.value,
                kind=kind,
                url=url,
                secret=sealed,
                seen_version=seen_version,
                by=caller.actor.user_id,
                now=now,
                client_id=typed.client_id,
                webhook_secret=ctx.seal_secret(inbound) if inbound else None,
            )
            # A changed connector gets a fresh chance: its health is judged by its next call.
            await uow.crm.set_health(side.value, now=now, needs_attention=False)
            action, detail = "crm_connector_set", {"side": side.value, "kind": kind, "url": url}
        if not done:
            raise Conflict(
                f"Another admin changed {name} while you were typing; nothing was saved. "
                "Open it again to see theirs."
            )
        await uow.tenants.audit(actor=caller.actor.user_id, action=action, detail=detail, now=now)
        await uow.commit()
    if removing:
        return f"Disconnected {name}: outcomes are kept for export until a connector is set."
    if crm_kind is rules.ConnectorKind.WEBHOOK:
        return f"Outcomes now go to {name} at `{esc(url, 300)}`, signed with the secret you gave."
    label = KIND_LABELS[crm_kind]
    return (
        f"{name.capitalize()} is now {label} at `{esc(url, 300)}`: `/ptm link` links deals to "
        f"its records, and outcomes go there as activities."
    )


async def connector_targets(ctx: Ctx) -> dict[Side, ConnectorConfig]:
    """Each side's connector as the tenant's admins set it (secrets still sealed)."""
    async with ctx.uow.reads() as uow:
        stored = await uow.tenants.connectors()
    return {
        Side(side): ConnectorConfig(
            CrmKind(c.kind),
            c.url,
            c.secret,
            client_id=c.client_id,
            webhook_secret=c.webhook_secret,
        )  # fmt: skip
        for side, c in stored.items()
        if side in set(Side)
    }
