"""Co-sell with AWS: `/ptm aws`, the card's *Co-sell with AWS*, and the form's submission."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.cosell import (
    build_cosell_modal,
    build_cosell_notice,
    build_referral_card,
    build_reject_modal,
    read_cosell_form,
)
from blocks.ids import Action, Callback
from blocks.metadata import CardRef, NextStepMeta, ReferralMeta
from blocks.modals import build_notice_modal, read_inputs
from blocks.replies import build_notice
from bot.app.deps import Deps
from bot.app.scheduling import deliver_outbox
from bot.domain.cosell import PartnerCentralPort
from bot.domain.model import DomainError
from bot.services import Caller, referrals
from bot.services import cosell as services
from bot.views.models import CoSellView, Reply
from handlers.actions import clicked
from handlers.answering import CommandAnswer
from handlers.parsing import action_value, card_block_id
from handlers.publish import publish, tell_privately
from handlers.views import opened_modal, submit_modal

DELIVERY = "Project.DeliveryModels[]"
NEEDS = "PrimaryNeedsFromAws[]"


def register(app: AsyncApp) -> None:
    app.action(Action.AWS_COSELL.value)(handle_cosell_open)
    app.view(Callback.AWS_COSELL.value)(handle_cosell_submission)
    app.action(Action.AWS_ACCEPT.value)(handle_referral_accept)
    app.action(Action.AWS_REJECT.value)(handle_referral_reject_open)
    app.view(Callback.AWS_REJECT.value)(handle_referral_rejection)


async def answer_aws_command(
    answer: CommandAnswer, deps: Deps, caller: Caller, number: int | None
) -> None:
    """`/ptm aws`: off and how to turn it on; or what AWS still needs, or where it stands."""
    if deps.aws is None:
        await answer(**build_notice(services.TURN_ON))
        return
    view = await services.cosell_view(deps.ctx, caller, deal_number=number)
    started = view.status is not None and view.status.step == "started"
    offer = view.deal_id if not view.submitted or started else None
    label = "Update AWS values" if started else "Fill in for AWS"
    await answer(**build_cosell_notice(services.cosell_notice(view), deal_id=offer, label=label))


async def handle_cosell_open(ack: Any, body: dict[str, Any], context: Any) -> None:
    """The card's button (the deal from the card) or `/ptm aws`'s (the deal in its value)."""
    await ack()
    click = clicked(body, context)
    deps, caller = click.deps, click.caller
    try:
        aws = services.require_aws(deps.aws)
        block = card_block_id(body)
        deal_id = CardRef.from_block_id(block).d if ":" in block else int(action_value(body))
        view = await services.cosell_view(deps.ctx, caller, deal_id=deal_id)
    except (DomainError, ValueError) as err:
        await click.tell(
            err.message if isinstance(err, DomainError) else "That button is out of date."
        )
        return
    if view.submitted and view.status is not None and view.status.step != "started":
        modal = build_notice_modal("Co-sell with AWS", f"{view.key} · {view.status.line()}")
    else:  # not yet submitted, or submitted: the same form sends AWS new values
        modal = _form(view, aws, caller)
    await deps.slack.open_modal(body["trigger_id"], modal, for_user=caller.actor.user_id)


def _form(view: CoSellView, aws: PartnerCentralPort, caller: Caller) -> dict[str, Any]:
    rules = aws.rules("CreateOpportunity")
    return build_cosell_modal(
        view,
        catalog=aws.catalog,
        delivery_options=rules[DELIVERY].enum,
        need_options=rules[NEEDS].enum,
        meta=NextStepMeta(d=view.deal_id, v=0, channel=caller.channel_id),
    )


async def handle_cosell_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    """Checked against AWS's own rules before the modal closes (problems next to their
    fields); then queued, answered, and the submission started at once."""
    if (opened := await opened_modal(ack, NextStepMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened
    typed = read_cosell_form(view)

    async def run() -> Any:
        return await services.submit(
            deps.ctx, caller, meta.d, typed, services.require_aws(deps.aws)
        )

    reply = await submit_modal(
        ack, run, deps, caller, errors_for=lambda err: {"aws_company": err.message[:1900]}
    )
    if reply is None:
        return
    await tell_privately(deps, caller, build_notice(reply.text))
    await publish(deps, reply, caller)
    await deliver_outbox(deps)


# --- referrals from AWS ------------------------------------------------------------------------


async def handle_referral_accept(ack: Any, body: dict[str, Any], context: Any) -> None:
    """Accept: the engagement starts and the deal is made; the referral's card says so."""
    await ack()
    click = clicked(body, context)
    deps, caller = click.deps, click.caller
    try:
        aws = services.require_aws(deps.aws)
        view, kept = await referrals.accept(deps.ctx, caller, action_value(body), aws)
    except DomainError as err:
        await click.tell(err.message)
        return
    if kept.channel_id and kept.ts:
        await deps.slack.update(kept.channel_id, kept.ts, build_referral_card(view))


async def handle_referral_reject_open(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    click = clicked(body, context)
    deps, caller = click.deps, click.caller
    try:
        services.require_aws(deps.aws)
        view = await referrals.invitation_view(deps.ctx, caller, action_value(body))
    except DomainError as err:
        await click.tell(err.message)
        return
    meta = ReferralMeta(i=view.invitation_id, channel=caller.channel_id)
    await deps.slack.open_modal(
        body["trigger_id"], build_reject_modal(view, meta), for_user=caller.actor.user_id
    )


async def handle_referral_rejection(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    if (opened := await opened_modal(ack, ReferralMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened
    reason = str(read_inputs(view).get("aws_reason") or "")

    async def run() -> Reply:
        card, invitation = await referrals.reject(
            deps.ctx, caller, meta.i, reason, services.require_aws(deps.aws)
        )
        if invitation.channel_id and invitation.ts:
            await deps.slack.update(invitation.channel_id, invitation.ts, build_referral_card(card))
        return Reply(text=f"Rejected the referral: {card.reason}")

    await submit_modal(
        ack, run, deps, caller, errors_for=lambda err: {"aws_reason": err.message[:1900]}
    )
