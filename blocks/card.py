"""The canonical deal card: a pure function of a CardView."""

from __future__ import annotations

from typing import Any

from blocks import kit
from blocks.ids import Action, MoreOption
from blocks.metadata import CardRef
from bot.domain.model import PARTNER_KIND_LABELS
from bot.views.deal_views import NOT_SHARED
from bot.views.models import CardView, InternalView

ROLE_LABEL = {"seller": "Seller", "alliance": "Alliance", "partner": "Partner"}
STEP_TEXT_LIMIT = 600
NAME_LIMIT = 120


def build_deal_card(card: CardView) -> dict[str, Any]:
    """Message payload (`blocks` + `text` fallback) of the deal card."""
    ref = CardRef(d=card.deal_id, v=card.version)
    if card.paused_note is not None:
        return _paused_card(card)
    blocks = [
        kit.header(f"{card.key} · {kit.truncate(card.name, NAME_LIMIT)}"),
        kit.section(_account_line(card), fields=_fields(card)),
        kit.section(_trio_text(card)),
        kit.section(_step_text(card)),
        kit.context(
            _cosell_text(card.cosell),
            _trigger_text(card.trigger, ours_only=card.internal is not None),
            *_crm_text(card),
            *([kit.user_text(card.aws, 600)] if card.aws else []),
        ),
        *([kit.section(internal_text(card.internal))] if card.internal else []),
        {"type": "actions", "block_id": ref.block_id("controls"), "elements": _controls(card)},
        kit.context(
            f"v{card.version} · last change"
            + (f" by {kit.mention(card.updated_by)}" if card.updated_by else "")
            + f" {kit.slack_date(card.updated_at)}"
        ),
    ]
    return {"blocks": blocks, "text": card_fallback(card), "metadata": card_metadata(card)}


def _paused_card(card: CardView) -> dict[str, Any]:
    """A copy for a partner company while the partnership is paused: the name and why there is
    nothing more (no controls: nothing may cross either way until it resumes)."""
    text = f"{card.key} · {kit.truncate(card.name, NAME_LIMIT)}"
    return {
        "blocks": [kit.header(text), kit.section(f":double_vertical_bar: {card.paused_note}")],
        "text": kit.user_text(f"{card.key} {card.name} — partnership paused", 300),
        "metadata": card_metadata(card),
    }


CARD_EVENT = "ptm_deal_card"
METADATA_TEXT_LIMIT = 200


def card_metadata(card: CardView) -> dict[str, Any]:
    """Machine-readable state of the card (Slack message metadata, `ptm_deal_card`): what any
    app in the channel may read, so shared fields only — whatever copy this is, internal notes,
    forecast category, trigger and CRM state never go here. Absent values are left out (Slack
    takes strings, numbers and booleans)."""
    if card.paused_note is not None:
        paused = {"deal_key": card.key, "version": card.version, "paused": True}
        return {"event_type": CARD_EVENT, "event_payload": paused}
    step = card.next_step
    payload: dict[str, Any] = {
        "deal_key": card.key,
        "version": card.version,
        "stage": card.stage or None,
        "status": card.status,
        "name": card.name[:METADATA_TEXT_LIMIT],
        "account": card.account[:METADATA_TEXT_LIMIT],
        "amount": card.amount if card.amount not in ("", "—") else None,
        "close_date": card.close_date.isoformat() if card.close_date else None,
        "attribution": card.attribution,
        "next_step_owner_role": step.owner_role if step else None,
        "next_step_due": step.due.isoformat() if step and step.due else None,
    }
    return {
        "event_type": CARD_EVENT,
        "event_payload": {k: v for k, v in payload.items() if v not in (None, "")},
    }


def card_fallback(card: CardView) -> str:
    """Notification / screen-reader text of the card."""
    if "next_step" in card.withheld:
        step = NOT_SHARED
    else:
        step = card.next_step.text if card.next_step else "no next step"
    return kit.user_text(f"{card.key} {card.name} — {card.stage or NOT_SHARED}, next: {step}", 300)


def _account_line(card: CardView) -> str:
    if "account" in card.withheld:
        account = f"_Account {NOT_SHARED}_"
    elif card.account:
        account = f"*{kit.user_text(card.account, 200)}*"
    else:
        account = "_No account yet (Edit deal)_"
    closed = {"won": "  :trophy: *Won*", "lost": "  *Lost*"}.get(card.status, "")
    if card.status == "lost" and card.close_reason:
        closed += f" — {kit.user_text(card.close_reason, 200)}"
    return f"{account}{closed}"


def _fields(card: CardView) -> list[str]:
    hidden = f"_{NOT_SHARED}_"

    def shown(field: str, value: str) -> str:
        return hidden if field in card.withheld else value

    close = card.close_date.isoformat() if card.close_date else "—"
    return [
        f"*Stage*\n{shown('stage', card.stage)}",
        f"*Amount*\n{shown('amount', card.amount)}",
        f"*Close date*\n{shown('close_date', close)}",
        f"*Attribution*\n{shown('attribution', card.attribution or 'not set')}",
        f"*Partner*\n{kit.user_text(card.partner, 100) if card.partner else 'not matched yet'}",
    ]


def _trio_text(card: CardView) -> str:
    """The trio with sync marks. Hints name `/ptm` only in a copy that only our org sees: in a
    shared channel the partner rep cannot use our slash command."""
    ours_only = card.internal is not None
    lines = ["*Trio*"]
    for m in card.members:
        label = ROLE_LABEL.get(m.role, m.role)
        if m.kind:
            label = f"{label} ({PARTNER_KIND_LABELS.get(m.kind, m.kind)})"
        if "trio" in card.withheld and not m.is_external:
            lines.append(f"{label}: _{NOT_SHARED}_")
            continue
        if m.company is not None:  # another partner company, as this copy's readers see it
            lines.append(f"{label}: {kit.user_text(m.company, 80)}")
            continue
        if m.user_id is None:
            how = f"`/ptm trio {m.role} @user`" if ours_only else "our alliance manager names them"
            lines.append(f"{label}: _not named — {how}_")
            continue
        org = " (partner org)" if m.is_external else ""
        if m.synced:
            mark = ":white_check_mark: synced"
        elif m.synced_version:
            mark = f":hourglass: behind (saw v{m.synced_version})"
        else:
            mark = ":hourglass: not synced yet"
        lines.append(f"{label}: {kit.mention(m.user_id)}{org} · {mark}")
    return "\n".join(lines)


def _step_text(card: CardView) -> str:
    step = card.next_step
    if "next_step" in card.withheld:
        return f"*Next step*: _{NOT_SHARED}_"
    if step is None:
        return "*Next step*: none yet — press *Set next step* so someone owns the next move."
    if step.owner_label is not None:
        owner = kit.user_text(step.owner_label, 80)
    else:
        owner = kit.mention(step.owner_user) if step.owner_user else "_unassigned_"
    role = f" ({step.owner_role})" if step.owner_role else ""
    due = f" · due {step.due.isoformat()}" if step.due else ""
    late = " · :warning: *overdue*" if step.overdue else ""
    return (
        f"*Next step*: {kit.user_text(step.text, STEP_TEXT_LIMIT)}\nOwner {owner}{role}{due}{late}"
    )


def internal_text(internal: InternalView) -> str:
    """The internal-only fields; callers decide the audience, this only lays them out."""
    notes = kit.user_text(internal.notes, 1500) if internal.notes else "_none_"
    forecast = internal.forecast_category or "not set"
    return f":lock: *Internal — our org only*\nForecast: {forecast}\nNotes: {notes}"


def _crm_text(card: CardView) -> list[str]:
    if not card.crm:
        return []
    sides = " · ".join(f"{label}: {state}" for label, state, _ in card.crm)
    return [f"Logged outcome → {sides}"]


def _trigger_text(trigger: str, *, ours_only: bool) -> str:
    if not trigger:
        how = "`/ptm trigger &lt;reason&gt;` or Edit deal" if ours_only else "Edit deal in ⋯"
        return f"Why a partner? _not recorded — {how}_"
    return f"Why a partner: {kit.user_text(trigger, 500)}"


def _cosell_text(cosell: tuple[tuple[str, bool], ...]) -> str:
    marks = [
        f"{':white_check_mark:' if done else ':white_circle:'} {name}" for name, done in cosell
    ]
    return "Co-sell: " + "  →  ".join(marks)


def _controls(card: CardView) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]]
    elements: list[dict[str, Any]] = []
    # A partner company does not change what it is not shown (the stage, the next step).
    if "stage" in card.withheld:
        pass
    elif card.status == "open":
        stage_options = [kit.option(s, s) for s in card.stages]
        elements.append(
            {
                "type": "static_select",
                "action_id": Action.STAGE_SELECT,
                "placeholder": kit.plain("Change stage"),
                "options": stage_options,
                "initial_option": kit.option(card.stage, card.stage),
            }
        )
    else:
        # A closed deal changes stage only by being reopened, which is said and audited.
        elements.append(kit.button("Reopen", Action.REOPEN))
    if "next_step" not in card.withheld:
        if card.next_step is not None:
            elements.append(
                kit.button(
                    "Mark step done",
                    Action.STEP_DONE,
                    value=str(card.next_step.id),
                    style="primary",
                )
            )
        elements.append(kit.button("Set next step", Action.STEP_SET))
    elements.append(kit.button("I'm synced", Action.SYNCED))
    elements.append(kit.button("Log outcome", Action.LOG_OUTCOME))
    if card.aws_offered:
        elements.append(kit.button("Co-sell with AWS", Action.AWS_COSELL))
    elements.append(
        {
            "type": "overflow",
            "action_id": Action.MORE,
            "options": [
                *([kit.option("Edit deal", MoreOption.EDIT)] if not card.withheld else []),
                kit.option("History", MoreOption.HISTORY),
                *(
                    [kit.option("Partner companies", MoreOption.PARTNERS)]
                    if card.internal is not None
                    else []
                ),
                kit.option("Find a partner", MoreOption.FIND),
                kit.option("Post co-sell brief", MoreOption.BRIEF),
                *(
                    [kit.option("Internal view (our org)", MoreOption.INTERNAL)]
                    if card.offers_internal_view
                    else []
                ),
            ],
        }
    )
    return elements
