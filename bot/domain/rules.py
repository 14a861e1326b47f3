"""Deal rules: who may change a deal and what each change does. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from bot.domain.model import (
    DEFAULT_OWNER,
    INTERNAL_FIELDS,
    Actor,
    BadInput,
    Conflict,
    Deal,
    Mutation,
    NotAllowed,
    Role,
    Stage,
    Status,
    StepChange,
    TrioMember,
    esc,
)


def may_change(deal: Deal, actor: Actor, admins: frozenset[str]) -> bool:
    """Trio members and admins may change a deal; its creator too while no trio is set."""
    if actor.user_id in admins or deal.role_of(actor.user_id) is not None:
        return True
    return not deal.trio and actor.user_id == deal.created_by


def require_change_right(deal: Deal, actor: Actor, admins: frozenset[str]) -> None:
    if may_change(deal, actor, admins):
        return
    if deal.trio:
        who = ", ".join(f"{m.role.value} <@{m.user_id}>" for m in deal.trio)
        raise NotAllowed(
            f"Only the trio of {deal.key} ({who}) and PTM admins can change it. "
            "Ask one of them to add you with `/ptm trio`."
        )
    raise NotAllowed(
        f"Only the creator of {deal.key} (<@{deal.created_by}>) and PTM admins can change it "
        "until its trio is set."
    )


CLOSED_STAGES = frozenset({Stage.CLOSED_WON, Stage.CLOSED_LOST})
REOPEN_HOW = "reopen it first with `/ptm reopen` or *Reopen* on the card"


def change_stage(deal: Deal, stage: Stage) -> Mutation:
    """Move the deal to `stage`; closing stages also close the status. A closed deal moves
    back to an open stage only through `reopen_deal`, never by a stage change."""
    if deal.stage == stage:
        return Mutation()
    if deal.status is not Status.OPEN and stage not in CLOSED_STAGES:
        raise BadInput(
            f"{deal.key} is {deal.stage.value.lower()}. To move it to {stage.value}, "
            f"{REOPEN_HOW} (it goes back to the stage it was closed from)."
        )
    return _move(deal, stage)


def reopen_deal(deal: Deal, back_to: Stage) -> Mutation:
    """Reopen a closed deal at the stage it was closed from; audited as a reopen. The store
    clears the closing time, so win rates and closed totals no longer count it."""
    if deal.status is Status.OPEN:
        raise BadInput(f"{deal.key} is open already (at {deal.stage.value}).")
    if back_to in CLOSED_STAGES:
        back_to = Stage.NEGOTIATE
    moved = _move(deal, back_to)
    return Mutation(
        fields=moved.fields, audit={**moved.audit, "reopened": (deal.stage.value, back_to.value)}
    )


def closed_from(audit: Iterable[Mapping[str, object]]) -> Stage | None:
    """The stage a deal was in when it was last closed, from its audit trail's changes
    (newest first, field -> [old, new])."""
    for changes in audit:
        change = changes.get("stage")
        if not isinstance(change, list | tuple) or len(change) != 2:
            continue
        closed = {s.value for s in CLOSED_STAGES}
        if change[1] in closed and change[0] not in closed:  # won -> lost looks further back
            old = change[0]
            return Stage(old) if old in {s.value for s in Stage} else None
    return None


def _move(deal: Deal, stage: Stage) -> Mutation:
    status = {Stage.CLOSED_WON: Status.WON, Stage.CLOSED_LOST: Status.LOST}.get(stage, Status.OPEN)
    fields: dict[str, object] = {"stage": stage}
    audit: dict[str, tuple[object, object]] = {"stage": (deal.stage.value, stage.value)}
    if status != deal.status:
        fields["status"] = status
        audit["status"] = (deal.status.value, status.value)
        if deal.close_reason:
            # The reason belonged to the previous close (a lost deal won after all, or reopened).
            fields["close_reason"] = ""
            audit["close_reason"] = (deal.close_reason, None)
    return Mutation(fields=fields, audit=audit)


def close_deal(deal: Deal, *, won: bool, reason: str = "") -> Mutation:
    """Close the deal as won or lost (`/ptm won`, `/ptm lost [reason]`); the store stamps the
    closing time, which win rates and closed-won totals count by."""
    moved = change_stage(deal, Stage.CLOSED_WON if won else Stage.CLOSED_LOST)
    fields, audit = dict(moved.fields), dict(moved.audit)
    kept = str(fields.get("close_reason", deal.close_reason))
    if reason and reason != kept:
        fields["close_reason"] = reason
        audit["close_reason"] = (deal.close_reason or None, reason)
    return Mutation(fields=fields, audit=audit)


def set_trio(deal: Deal, members: dict[Role, TrioMember]) -> Mutation:
    """Name one or more trio members; a member who keeps their role keeps their sync state.
    The partner named replaces the first partner company's rep (the trio's partner)."""
    changed: list[TrioMember] = []
    dropped: list[str] = []
    audit: dict[str, tuple[object, object]] = {}
    for role, member in members.items():
        current = deal.member(role)
        if current and current.user_id == member.user_id:
            continue
        if role is Role.PARTNER and any(p.user_id == member.user_id for p in deal.partners):
            raise BadInput(
                f"<@{member.user_id}> is already on {deal.key} for another partner company."
            )
        if role is Role.PARTNER and current is not None:
            dropped.append(current.user_id)
            member = replace(member, kind=current.kind)
        changed.append(member)
        audit[f"trio.{role.value}"] = (current.user_id if current else None, member.user_id)
    return Mutation(trio=tuple(changed), audit=audit, trio_drop=tuple(dropped))


MAX_PARTNERS = 12  # partner companies on one deal (large deals have "more than ten")


def add_partner(deal: Deal, user_id: str, kind: str) -> Mutation:
    """One more partner company on the deal, named by its rep, with its role on the deal."""
    if deal.role_of(user_id) is not None:
        raise BadInput(f"<@{user_id}> is already on {deal.key} ({deal.role_of(user_id)}).")
    if len(deal.partners) >= MAX_PARTNERS:
        raise BadInput(
            f"{deal.key} has {MAX_PARTNERS} partner companies, the most PTM keeps on one deal. "
            "Remove one with `/ptm partner remove @rep` first."
        )
    member = TrioMember(Role.PARTNER, user_id, is_external=True, kind=kind)
    return Mutation(trio=(member,), audit={f"partners.{user_id}": (None, kind)})


def remove_partner(deal: Deal, user_id: str) -> Mutation:
    """A partner company leaves the deal (named by its rep); not while its rep owns the open
    next step, which would be left without an owner."""
    member = next((p for p in deal.partners if p.user_id == user_id), None)
    if member is None:
        reps = ", ".join(f"<@{p.user_id}>" for p in deal.partners) or "none"
        raise BadInput(
            f"<@{user_id}> is not a partner rep on {deal.key}. Its partner reps: {reps}."
        )
    step = deal.next_step
    if step is not None and step.owner_user == user_id:
        raise BadInput(
            f"<@{user_id}> owns the open next step of {deal.key}. Give it to someone else first "
            "(`/ptm next … for @user`), then remove their company."
        )
    return Mutation(audit={f"partners.{user_id}": (member.kind or "partner", None)},
                    trio_drop=(user_id,))  # fmt: skip


def resolve_owner(
    deal: Deal, *, role: Role | None, user_id: str | None
) -> tuple[Role | None, str | None]:
    """Decide who owns a next step: a named user, a named role, or the stage's default role."""
    if user_id is not None:
        owner_role = deal.role_of(user_id)
        if owner_role is None:
            trio = ", ".join(f"{m.role.value} <@{m.user_id}>" for m in deal.trio) or "nobody yet"
            raise BadInput(
                f"<@{user_id}> is not in the trio of {deal.key} ({trio}). "
                "Name a trio member or a role: seller, alliance, partner."
            )
        return owner_role, user_id
    owner_role = role or DEFAULT_OWNER[deal.stage]
    member = deal.member(owner_role)
    return owner_role, member.user_id if member else None


def set_next_step(
    deal: Deal, text: str, *, role: Role | None, user_id: str | None, due: date | None
) -> Mutation:
    """Replace the open next step with a new one."""
    owner_role, owner_user = resolve_owner(deal, role=role, user_id=user_id)
    old = deal.next_step
    step = StepChange("set", text=text, owner_role=owner_role, owner_user=owner_user, due=due)
    if old and (old.text, old.owner_role, old.owner_user, old.due) == (
        text,
        owner_role,
        owner_user,
        due,
    ):
        return Mutation()
    audit: dict[str, tuple[object, object]] = {"next_step": (old.text if old else None, text)}
    if owner_user != (old.owner_user if old else None) or not old:
        audit["next_step.owner"] = (old.owner_user if old else None, owner_user)
    if due != (old.due if old else None):
        audit["next_step.due"] = (
            old.due.isoformat() if old and old.due else None,
            due.isoformat() if due else None,
        )
    return Mutation(step=step, audit=audit)


def complete_next_step(deal: Deal, *, expected_step_id: int | None = None) -> Mutation:
    """Complete the open next step; `expected_step_id` guards a click on an older card."""
    step = deal.next_step
    if step is None:
        if expected_step_id is not None:
            raise Conflict(f"That next step of {deal.key} is already done.")
        raise BadInput(f"{deal.key} has no open next step. Set one with `/ptm next &lt;text&gt;`.")
    if expected_step_id is not None and step.id != expected_step_id:
        raise Conflict(
            f"The next step of {deal.key} changed since you looked: it is now “{esc(step.text)}”."
        )
    return Mutation(step=StepChange("complete"), audit={"next_step.done": (step.text, True)})


EDITABLE_FIELDS: tuple[str, ...] = (
    "name",
    "account",
    "amount",
    "currency",
    "close_date",
    "attribution",
    "internal_notes",
    "forecast_category",
    "trigger_reason",
)


def edit_deal(deal: Deal, changes: dict[str, object], *, actor: Actor) -> Mutation:
    """Apply edits to the deal's own fields; values equal to the current ones are ignored.

    Internal fields may be changed only by someone from our own org.
    """
    fields: dict[str, object] = {}
    audit: dict[str, tuple[object, object]] = {}
    for name, new in changes.items():
        if name not in EDITABLE_FIELDS:
            raise BadInput(f"{name} cannot be edited here.")
        if name in INTERNAL_FIELDS and not actor.internal:
            raise NotAllowed("Internal notes and the forecast category are for our own org only.")
        old = getattr(deal, name)
        if old == new:
            continue
        fields[name] = new
        audit[name] = (_shown(old), _shown(new))
    if "trigger_reason" in fields:
        # Why a partner is pulled in is co-sell step one: done while a reason is recorded.
        steps = (
            set(deal.cosell) | {"trigger"}
            if fields["trigger_reason"]
            else set(deal.cosell) - {"trigger"}
        )
        fields["cosell"] = sorted(steps)
    return Mutation(fields=fields, audit=audit)


def visible_changes(changes: dict[str, object], *, internal: bool) -> dict[str, object]:
    """The part of an audit entry a reader may see: internal fields only for our own org."""
    if internal:
        return changes
    return {k: v for k, v in changes.items() if k not in INTERNAL_FIELDS}


class Dated(Protocol):
    """A step as far as being overdue goes (a deal's `NextStep`, a digest's glance of it)."""

    @property
    def due(self) -> date | None: ...


def is_overdue(step: Dated | None, today: date) -> bool:
    return bool(step and step.due and step.due < today)


def _shown(value: object) -> object:
    """How a value is kept in the audit trail (JSON-friendly)."""
    if isinstance(value, date | Decimal):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


def attach_partner(deal: Deal, partner_name: str) -> Mutation:
    """Match a partner to the deal: co-sell step *match* is done once a partner is attached."""
    if deal.partner == partner_name:
        return Mutation()
    return Mutation(
        fields={"partner": partner_name, "cosell": sorted(set(deal.cosell) | {"match"})},
        audit={"partner": (deal.partner, partner_name)},
    )


def log_outcome(deal: Deal, outcome: str) -> Mutation:
    """A logged outcome is a change of its own (audited even when repeated) and completes the
    co-sell steps *meeting* and *log*."""
    steps = sorted(set(deal.cosell) | {"meeting", "log"})
    return Mutation(fields={"cosell": steps}, audit={"outcome": (None, outcome)})


def mark_cosell_step(deal: Deal, step: str) -> Mutation:
    """Record that a co-sell step happened (brief posted, meeting held…); done once."""
    if step in deal.cosell:
        return Mutation()
    return Mutation(
        fields={"cosell": sorted(set(deal.cosell) | {step})}, audit={step: (None, "done")}
    )
