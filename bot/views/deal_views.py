"""Turn domain deals into view models: what the card and lists show, decided in one place."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal

from bot.domain.forms import editable_fields, fingerprints
from bot.domain.model import (
    COSELL_STEPS,
    PARTNER_KIND_LABELS,
    ROLES,
    STAGES,
    Deal,
    Role,
    esc,
)
from bot.domain.partnership import Policy
from bot.domain.rules import is_overdue
from bot.views.models import (
    BriefView,
    CardView,
    DealLine,
    EditForm,
    InternalView,
    MemberView,
    NextStepForm,
    StepView,
)


def card_view(
    deal: Deal,
    today: date,
    *,
    internal: bool = False,
    crm: dict[str, tuple[str, int]] | None = None,
    aws: str | None = None,
    aws_offered: bool = False,
) -> CardView:
    """The canonical card for `deal` as of `today` (which decides what is overdue).

    `internal` is the audience: only a copy seen by our own org alone carries internal fields.
    """
    members = []
    for role in ROLES:
        # Every partner company's rep (none named yet: one empty partner line).
        named = deal.partners if role is Role.PARTNER else ()
        for member in named or (deal.member(role),):
            members.append(
                MemberView(
                    role=role.value,
                    user_id=member.user_id if member else None,
                    synced=bool(member and member.synced_version >= deal.version),
                    synced_version=member.synced_version if member else 0,
                    is_external=bool(member and member.is_external),
                    kind=member.kind if member else None,
                    team_id=member.team_id if member else None,
                )
            )
    step = deal.next_step
    return CardView(
        deal_id=deal.id,
        key=deal.key,
        name=deal.name,
        account=deal.account,
        stage=deal.stage.value,
        status=deal.status.value,
        amount=format_amount(deal.amount, deal.currency),
        close_date=deal.close_date,
        attribution=deal.attribution.value if deal.attribution else None,
        partner=deal.partner,
        members=tuple(members),
        next_step=(
            StepView(
                id=step.id,
                text=step.text,
                owner_user=step.owner_user,
                owner_role=step.owner_role.value if step.owner_role else None,
                due=step.due,
                overdue=is_overdue(step, today),
            )
            if step
            else None
        ),
        cosell=tuple((name, name in deal.cosell) for name in COSELL_STEPS),
        version=deal.version,
        updated_by=deal.updated_by,
        updated_at=deal.updated_at,
        stages=tuple(s.value for s in STAGES),
        internal=internal_view(deal) if internal else None,
        offers_internal_view=not internal,
        trigger=deal.trigger_reason,
        close_reason=deal.close_reason,
        crm=crm_states(deal, crm or {}, internal=internal),
        aws=aws,
        # Our people submit to AWS; a copy only they see offers it.
        aws_offered=aws_offered and internal,
    )


def crm_states(
    deal: Deal, crm: Mapping[str, tuple[str, int]], *, internal: bool
) -> tuple[tuple[str, str, str | None], ...]:
    """Each CRM delivery of the latest outcome as the card says it: (whose CRM, its state, the
    partner company it is for). Our side reads only delivered or waiting outside our org."""
    partner_keys = [k for k in crm if k not in ("ours", "record")]
    states = []
    for key, (status, attempts) in sorted(crm.items()):
        if key == "ours":
            state = delivery_state(status, attempts) if internal else outward_state(status)
            states.append(("our CRM", state, None))
            continue
        if key == "record":  # our CRM record's fields, written back: ours to know
            if internal:
                states.append(("our CRM record", delivery_state(status, attempts), None))
            continue
        company = key.split(":", 1)[1] if ":" in key else None
        member = next((m for m in deal.partners if company in (m.team_id, m.user_id)), None)
        label = "partner CRM"
        if len(partner_keys) > 1 and member is not None:
            kind = PARTNER_KIND_LABELS.get(member.kind or "", "partner")
            label = f"{kind} CRM (<@{member.user_id}>)"
        team = member.team_id if member is not None else company
        states.append((label, delivery_state(status, attempts), team))
    return tuple(states)


def delivery_state(status: str, attempts: int) -> str:
    """How a CRM delivery reads on the card."""
    if status == "pending":
        return f"retrying ({attempts})" if attempts else "sending"
    return {
        "dead": "failed",
        "export": "no connector (export)",
        "attention": "needs attention (an admin must check the connector)",
    }.get(status, status)


def outward_state(status: str) -> str:
    """Our CRM's delivery as the partner's side sees it: delivered or waiting — whether our
    CRM is down, retrying or not connected at all is ours to know."""
    return "delivered" if status == "delivered" else "waiting"


def internal_view(deal: Deal) -> InternalView:
    forecast = deal.forecast_category.value if deal.forecast_category else None
    return InternalView(notes=deal.internal_notes, forecast_category=forecast)


def deal_line(deal: Deal, today: date) -> DealLine:
    step = deal.next_step
    return DealLine(
        key=deal.key,
        name=deal.name,
        stage=deal.stage.value,
        next_step=step.text if step else None,
        owner_user=step.owner_user if step else None,
        due=step.due if step else None,
        overdue=is_overdue(step, today),
    )


NOT_SHARED = "not shared"


def govern_brief(view: BriefView, policy: Policy) -> BriefView:
    """A brief for a channel a partner company reads, under our policy toward it."""
    withheld = policy.withheld()
    if not withheld:
        return view
    return replace(
        view,
        account="" if "account" in withheld else view.account,
        stage="" if "stage" in withheld else view.stage,
        amount="" if "amount" in withheld else view.amount,
        trio=tuple(
            (role, None if "trio" in withheld and not role.startswith("partner") else user, co)
            for role, user, co in view.trio
        ),
        next_step=None if "next_step" in withheld else view.next_step,
        next_owner=None if "next_step" in withheld else view.next_owner,
        next_due=None if "next_step" in withheld else view.next_due,
        partner=None if policy.paused else view.partner,
        trigger="" if policy.paused else view.trigger,
        withheld=withheld,
    )


OTHER_COMPANY = "another partner company"


def among_partners(
    card: CardView,
    channel_teams: Collection[str],
    names: Mapping[str, str],
    *,
    see_each_other: bool = True,
) -> CardView:
    """A copy in a channel of some partner companies, on a deal with several: the others show
    only as their company and role (no rep, no sync state) — or, when our policy hides
    partner companies from each other, not at all; a next step one of them owns names the
    company, not the person."""
    hidden: dict[str, str] = {}
    members = []
    for m in card.members:
        if m.role == Role.PARTNER.value and m.user_id and m.team_id not in channel_teams:
            company = names.get(m.team_id or "", "") or OTHER_COMPANY
            hidden[m.user_id] = company if see_each_other else OTHER_COMPANY
            if see_each_other:
                members.append(
                    MemberView(m.role, None, is_external=True, kind=m.kind, company=company)
                )
        else:
            members.append(m)
    if not hidden:
        return card
    step = card.next_step
    if step is not None and step.owner_user in hidden:
        step = replace(step, owner_user=None, owner_label=hidden[step.owner_user])
    # Another company's CRM state is its own business.
    crm = tuple(c for c in card.crm if c[2] is None or c[2] in channel_teams)
    return replace(card, members=tuple(members), next_step=step, crm=crm)


def several_partners(card: CardView) -> bool:
    return sum(1 for m in card.members if m.role == Role.PARTNER.value and m.user_id) > 1


def govern(card: CardView, policy: Policy) -> CardView:
    """A shared copy as a partner company may see it under our partnership: each field we do
    not share with it blanked here (so no builder can show it) and named in `withheld`; the
    partner company's own people stay on the trio. Paused: nothing but the deal's name (and the
    note), since nothing new may cross."""
    withheld = policy.withheld()
    if not withheld:
        return card
    members = card.members
    if "trio" in withheld:
        members = tuple(
            m if m.is_external else MemberView(m.role, None, is_external=False) for m in members
        )
    governed = replace(
        card,
        account="" if "account" in withheld else card.account,
        stage="" if "stage" in withheld else card.stage,
        amount="" if "amount" in withheld else card.amount,
        close_date=None if "close_date" in withheld else card.close_date,
        attribution=None if "attribution" in withheld else card.attribution,
        next_step=None if "next_step" in withheld else card.next_step,
        members=members,
        # Who changed it last names one of our people: part of the trio.
        updated_by=card.updated_by if "trio" not in withheld or _theirs(card) else "",
        withheld=withheld,
    )
    if not policy.paused:
        return governed
    by = "they" if policy.paused_by_them else "we"
    return replace(
        governed,
        status="open",
        partner=None,
        cosell=(),
        trigger="",
        crm=(),
        close_reason="",
        offers_internal_view=False,
        paused_note=(
            f"The PTM partnership with {policy.company} is paused ({by} paused it): this card "
            "shows nothing new until it resumes."
        ),
    )


def _theirs(card: CardView) -> bool:
    return any(m.is_external and m.user_id == card.updated_by for m in card.members)


def shared_deal_line(
    deal: Deal,
    today: date,
    *,
    company: str,
    shares: Collection[str],
    paused: bool,
    viewer_team: str | None = None,
) -> DealLine:
    """A partner company's deal as its partner's people see it: only what it shares with them
    (the name always); while the partnership is paused, nothing but the name. A step another
    partner company's rep owns names no one."""
    line = deal_line(deal, today)
    step = deal.next_step
    owner = next((p for p in deal.partners if step and p.user_id == step.owner_user), None)
    if owner is not None and viewer_team is not None and owner.team_id != viewer_team:
        line = replace(line, owner_user=None, owner_label=OTHER_COMPANY)
    if paused:
        return replace(
            line, stage=NOT_SHARED, next_step=None, owner_user=None, due=None, overdue=False,
            company=company, step_shared=False, paused=True,
        )  # fmt: skip
    step_shared = "next_step" in shares
    return replace(
        line,
        stage=line.stage if "stage" in shares else NOT_SHARED,
        next_step=line.next_step if step_shared else None,
        owner_user=line.owner_user if step_shared else None,
        due=line.due if step_shared else None,
        overdue=line.overdue and step_shared,
        company=company,
        step_shared=step_shared,
    )


def line_fields(line: DealLine) -> tuple[str, ...]:
    """What a list line tells (the disclosure ledger's vocabulary)."""
    if line.paused:
        return ("name",)
    shown = {"name": True, "stage": line.stage != NOT_SHARED, "next_step": bool(line.next_step)}
    return tuple(f for f, present in shown.items() if present)


def edit_form(deal: Deal, *, internal: bool) -> EditForm:
    return EditForm(
        deal_id=deal.id,
        key=deal.key,
        version=deal.version,
        name=deal.name,
        account=deal.account,
        amount="" if deal.amount is None else f"{deal.amount:f}",
        currency=deal.currency,
        close_date=deal.close_date,
        attribution=deal.attribution.value if deal.attribution else None,
        internal=internal_view(deal) if internal else None,
        trigger=deal.trigger_reason,
        shown=fingerprints({name: getattr(deal, name) for name in editable_fields(internal)}),
    )


def next_step_form(deal: Deal) -> NextStepForm:
    step = deal.next_step
    return NextStepForm(
        deal_id=deal.id,
        key=deal.key,
        version=deal.version,
        text=step.text if step else "",
        owner_role=step.owner_role.value if step and step.owner_role else None,
        due=step.due if step else None,
        roles=tuple(
            (role.value, m.user_id if (m := deal.member(role)) else None) for role in ROLES
        ),
    )


def format_amount(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "—"
    shown = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return f"{currency} {shown}"


def status_line(
    deal: Deal, today: date, withheld: Collection[str] = (), *, owner_label: str | None = None
) -> str:
    """One answer to "where does this deal stand?": shared fields only (less what a partner
    company's policy withholds), user text escaped."""
    step = deal.next_step
    if "next_step" in withheld:
        nxt = f"Next step: {NOT_SHARED}."
    elif step is None:
        nxt = "No next step yet: set one with *Set next step* on the card or `@PTM next: …`."
    else:
        owner = f"<@{step.owner_user}>" if step.owner_user else "not named yet"
        owner = esc(owner_label, 80) if owner_label else owner
        due = f", due {step.due.isoformat()}" if step.due else ""
        late = " (overdue)" if is_overdue(step, today) else ""
        role = f" ({step.owner_role.value})" if step.owner_role else ""
        nxt = f"Next step: {esc(step.text, 300)} — {owner}{role}{due}{late}."
    if "stage" in withheld:
        return f"*{deal.key} {esc(deal.name, 150)}*: stage {NOT_SHARED} (v{deal.version}). {nxt}"
    return (
        f"*{deal.key} {esc(deal.name, 150)}* is at *{deal.stage.value}* ({deal.status.value}, "
        f"v{deal.version}). {nxt}"
    )


def status_fields(withheld: Collection[str]) -> tuple[str, ...]:
    """What `status_line` tells (the disclosure ledger's vocabulary)."""
    return tuple(f for f in ("name", "stage", "status", "next_step") if f not in withheld)


def _brief_trio(deal: Deal) -> tuple[tuple[str, str | None, str | None], ...]:
    """(role, user, company shown instead of the user) for each trio line of a brief."""
    lines: list[tuple[str, str | None, str | None]] = []
    for role in ROLES:
        if role is Role.PARTNER and deal.partners:
            for p in deal.partners:
                kind = f" ({PARTNER_KIND_LABELS.get(p.kind, p.kind)})" if p.kind else ""
                lines.append((f"{role.value}{kind}", p.user_id, None))
            continue
        member = deal.member(role)
        lines.append((role.value, member.user_id if member else None, None))
    return tuple(lines)


def brief_among_partners(
    view: BriefView,
    deal: Deal,
    channel_teams: Collection[str],
    names: Mapping[str, str],
    *,
    see_each_other: bool = True,
) -> BriefView:
    """A brief in a channel of some of a deal's partner companies: the others as their
    company (or not at all), never their reps; a next step one of them owns names no one."""
    other = {p.user_id: p for p in deal.partners if p.team_id not in channel_teams}
    if len(deal.partners) < 2 or not other:
        return view
    trio = []
    for role, user, company in view.trio:
        if user in other:
            if see_each_other:
                trio.append((role, None, names.get(other[user].team_id or "") or OTHER_COMPANY))
            continue
        trio.append((role, user, company))
    owner = view.next_owner
    if owner not in other:
        return replace(view, trio=tuple(trio))
    label = names.get(other[owner].team_id or "") if see_each_other else None
    return replace(view, trio=tuple(trio), next_owner=None, next_owner_label=label or OTHER_COMPANY)


def brief_view(deal: Deal, ask: str, *, internal: bool) -> BriefView:
    step = deal.next_step
    return BriefView(
        deal_id=deal.id,
        key=deal.key,
        name=deal.name,
        account=deal.account,
        stage=deal.stage.value,
        amount=format_amount(deal.amount, deal.currency),
        partner=deal.partner,
        trigger=deal.trigger_reason,
        ask=ask,
        trio=_brief_trio(deal),
        next_step=step.text if step else None,
        next_owner=step.owner_user if step else None,
        next_due=step.due if step else None,
        internal=internal_view(deal) if internal else None,
    )


def shared_card_fields(card: CardView) -> tuple[str, ...]:
    """The deal fields a shared copy of the card shows (the disclosure ledger's vocabulary)."""
    if card.paused_note is not None:
        return ("name",)
    shown = {
        "name": True,
        "account": bool(card.account),
        "stage": bool(card.stage),
        "status": card.status != "open",
        "amount": card.amount not in ("", "—"),
        "close_date": card.close_date is not None,
        "attribution": card.attribution is not None,
        "partner": card.partner is not None,
        "next_step": card.next_step is not None,
        # Their own rep is no disclosure to them: "trio" is our people.
        "trio": "trio" not in card.withheld and any(m.user_id for m in card.members),
        "partners": any(m.company is not None for m in card.members),
        "cosell": bool(card.cosell),
    }
    return tuple(field for field, present in shown.items() if present)


# What the card's message metadata carries (blocks.card.card_metadata), as ledger fields.
METADATA_FIELDS = frozenset(
    {"name", "account", "stage", "status", "amount", "close_date", "attribution", "next_step"}
)


def metadata_fields(card: CardView) -> tuple[str, ...]:
    """The metadata always says the deal's status, open or not — except while the
    partnership is paused, when it says only that (see `card_metadata`)."""
    if card.paused_note is not None:
        return ()
    shown = [f for f in shared_card_fields(card) if f in METADATA_FIELDS]
    return tuple(shown if "status" in shown else [*shown, "status"])


def brief_fields(view: BriefView) -> tuple[str, ...]:
    """The deal fields a brief shows (the ask is the caller's words, not the deal's)."""
    shown = {
        "name": True,
        "account": bool(view.account),
        "stage": bool(view.stage),
        "amount": view.amount not in ("", "—"),
        "partner": view.partner is not None,
        "trigger": bool(view.trigger),
        "trio": "trio" not in view.withheld and any(user for _, user, _ in view.trio),
        "partners": any(company for _, _, company in view.trio),
        "next_step": view.next_step is not None,
    }
    return tuple(field for field, present in shown.items() if present)
