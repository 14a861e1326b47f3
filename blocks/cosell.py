"""Co-sell with AWS: the form a seller fills (pre-filled from the deal) and `/ptm aws`'s answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blocks import kit
from blocks.ids import Action, Callback
from blocks.metadata import NextStepMeta, ReferralMeta
from blocks.modals import modal
from bot.domain.cosell import FIELDS, FORM_PREFIX
from bot.views.models import CoSellView, InvitationView

INPUT = "value"


def build_cosell_modal(
    view: CoSellView,
    *,
    catalog: str,
    delivery_options: Sequence[str],
    need_options: Sequence[str],
    meta: NextStepMeta,
) -> dict[str, Any]:
    """Every field AWS needs, filled with what the deal and the last try hold. Submitting checks
    it all against AWS's own rules before anything leaves."""
    form = view.form
    intro = (
        f"*{view.key} · {kit.user_text(view.name, 120)}* goes to AWS Partner Central "
        f"({catalog} catalog) as a co-sell opportunity with your solution. Only these fields, "
        "the deal's name, stage and next step are sent — never internal notes or the forecast."
    )
    if view.submitted:
        intro += "\nSubmitted already: what you change here goes to AWS as an update."
    if view.missing:
        intro += "\n:warning: AWS still needs: " + ", ".join(m.lower() for m in view.missing) + "."
    blocks: list[dict[str, Any]] = [
        kit.section(intro),
        _text("company", initial=form.company, max_length=120, hint="As AWS should know them."),
        _text("country", initial=form.country, max_length=2,
              hint="Two-letter ISO code of the customer's country: US, DE, GB, JP…"),
        _text("website", initial=form.website, max_length=255, hint="e.g. https://acme.com"),
        _text("duns", initial=form.duns, max_length=9, optional=True,
              hint="Nine digits, if your AWS team asks for it."),
        _text("problem", initial=form.problem, max_length=2000, multiline=True,
              hint="20 to 2,000 characters: what the customer needs and how you help."),
        _text("spend", initial=form.spend, max_length=34,
              hint="Expected monthly AWS spend, digits: 12500 or 12500.50."),
        _text("currency", initial=form.currency, max_length=3, hint="e.g. USD, EUR, GBP."),
        _date("close_date", form.close_date),
        _text("use_case", initial=form.use_case, max_length=255,
              hint="The solution focus or workload, e.g. Migration/Database Migration."),
        _many("delivery", delivery_options, form.delivery),
        _many("need", need_options, form.need),
    ]  # fmt: skip
    label = "Update AWS" if view.submitted else "Submit to AWS"
    return modal(Callback.AWS_COSELL, "Co-sell with AWS", label, blocks, meta.encode(3000))


def _block(key: str, element: dict[str, Any], *, optional: bool = False,
           hint: str | None = None) -> dict[str, Any]:  # fmt: skip
    block: dict[str, Any] = {
        "type": "input",
        "block_id": f"{FORM_PREFIX}{key}",
        "label": kit.plain(FIELDS[key][0], 150),
        "optional": optional,
        "element": element,
    }
    if hint:
        block["hint"] = kit.plain(hint, 150)
    return block


def _text(key: str, *, initial: str, max_length: int, optional: bool = False,
          multiline: bool = False, hint: str | None = None) -> dict[str, Any]:  # fmt: skip
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": INPUT,
                               "max_length": max_length, "multiline": multiline}  # fmt: skip
    if initial:
        element["initial_value"] = initial[:max_length]
    return _block(key, element, optional=optional, hint=hint)


def _date(key: str, initial: str) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "datepicker", "action_id": INPUT}
    if initial:
        element["initial_date"] = initial
    return _block(key, element)


def _many(key: str, options: Sequence[str], chosen: Sequence[str]) -> dict[str, Any]:
    shown = [kit.option(o, o) for o in options[:100]]
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": INPUT,
        "placeholder": kit.plain("Choose one or more"),
        "options": shown,
    }
    initial = [o for o in shown if o["value"] in chosen]
    if initial:
        element["initial_options"] = initial
    return _block(key, element)


def read_cosell_form(view: dict[str, Any]) -> dict[str, object]:
    """The submitted form: field key -> text, or a list for the multi-selects."""
    typed: dict[str, object] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        if not block_id.startswith(FORM_PREFIX):
            continue
        element = actions.get(INPUT, {})
        key = block_id[len(FORM_PREFIX) :]
        if "selected_options" in element:
            typed[key] = [o["value"] for o in element["selected_options"] or []]
        elif "selected_date" in element:
            typed[key] = element["selected_date"] or ""
        else:
            typed[key] = element.get("value") or ""
    return typed


def build_cosell_notice(
    text: str, *, deal_id: int | None, label: str = "Fill in for AWS"
) -> dict[str, Any]:
    """`/ptm aws`: where the co-sell stands, with the button that opens the form."""
    blocks: list[dict[str, Any]] = [kit.section(text)]
    if deal_id is not None:
        button = kit.button(label, Action.AWS_COSELL, value=str(deal_id))
        blocks.append({"type": "actions", "elements": [button]})
    return {"text": kit.truncate(text, 3000), "blocks": blocks}


def build_referral_card(view: InvitationView) -> dict[str, Any]:
    """A referral from AWS in PTM_AWS_CHANNEL: what AWS sent, *Accept* / *Reject* while it
    waits, then who answered and how."""
    d = view.details
    lines = [f"*AWS referral: {kit.user_text(view.title or 'untitled', 200)}*"]
    customer = ", ".join(
        kit.user_text(part, 120)
        for part in (view.company, d.get("country", ""), d.get("industry", ""))
        if part
    )
    if customer:
        lines.append(f"Customer: {customer}")
    if d.get("problem"):
        lines.append(f"Problem: {kit.user_text(d['problem'], 600)}")
    spend = d.get("spend")
    if spend:
        currency = kit.user_text(d.get("currency", ""), 5)
        lines.append(f"Expected monthly AWS spend: {kit.user_text(spend, 40)} {currency}")
    if d.get("close_date"):
        lines.append(f"Target close: {kit.user_text(d['close_date'], 20)}")
    sender = f"From {kit.user_text(view.sender, 120)}"
    if view.expires_at is not None:
        sender += f" · answer by {kit.slack_date(view.expires_at)}"
    blocks: list[dict[str, Any]] = [kit.section("\n".join(lines)), kit.context(sender)]
    if view.status == "pending":
        accept = kit.button("Accept", Action.AWS_ACCEPT, value=view.invitation_id, style="primary")
        reject = kit.button("Reject", Action.AWS_REJECT, value=view.invitation_id)
        blocks.append({"type": "actions", "elements": [accept, reject]})
        blocks.append(kit.context("Admins and alliance managers answer: accepting starts the "
                                  "engagement with AWS and creates the deal."))  # fmt: skip
    elif view.status == "accepted":
        deal = f": {view.deal_key}" if view.deal_key else ""
        who = kit.mention(view.acted_by or "")
        blocks.append(
            kit.section(
                f":white_check_mark: Accepted by {who}{deal}. `/ptm card {view.deal_key or ''}` "
                "in a channel posts its card there."
            )
        )
    elif view.status == "rejected":
        blocks.append(
            kit.section(f":x: Rejected by {kit.mention(view.acted_by or '')}: {view.reason}")
        )
    else:
        blocks.append(kit.context(f"Being answered by {kit.mention(view.acted_by or '')}…"))
    return {"text": f"AWS referral: {kit.truncate(view.title, 150)}", "blocks": blocks}


def build_reject_modal(view: InvitationView, meta: ReferralMeta) -> dict[str, Any]:
    blocks = [
        kit.section(
            f"Reject *{kit.user_text(view.title, 200)}* from {kit.user_text(view.sender, 120)}? "
            "AWS passes your reason on."
        ),
        {
            "type": "input",
            "block_id": "aws_reason",
            "label": kit.plain("Why", 150),
            "element": {"type": "plain_text_input", "action_id": INPUT, "max_length": 80},
            "hint": kit.plain("One line, at most 80 characters.", 150),
        },
    ]
    return modal(Callback.AWS_REJECT, "Reject referral", "Reject", blocks, meta.encode(3000))
