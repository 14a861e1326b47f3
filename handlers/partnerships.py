"""Partnerships: `/ptm partnership` and its form, the other company's Review / Decline, and
Pause / Resume / End / Withdraw from App Home. What the other company's admins must hear goes
through that company's own installation (`Deps.peer`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.ids import INPUT_ACTION, Action, Callback, Field
from blocks.metadata import PartnershipRef, ProposalMeta
from blocks.modals import build_notice_modal
from blocks.partnerships import (
    ACTION_MOVES,
    CHOSEN_IN_FORM,
    build_answer_modal,
    build_partnership_dm,
    build_propose_modal,
)
from blocks.replies import build_notice
from bot import services
from bot.app.deps import Deps, deps_of
from bot.domain.model import BadInput, DomainError
from bot.domain.partnership import Move
from bot.services import Caller
from bot.services.partnerships import Outcome
from bot.views.partnerships import AnswerForm, Tell
from handlers.parsing import action_value, caller_from_interaction

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.view(Callback.PARTNERSHIP_PROPOSE.value)(handle_propose_submission)
    app.view(Callback.PARTNERSHIP_ACCEPT.value)(handle_accept_submission)
    app.action(Action.PARTNERSHIP_REVIEW.value)(handle_review)
    app.action(Action.PARTNERSHIP_START.value)(handle_start)
    for action in ACTION_MOVES:
        app.action(action)(handle_move)


async def open_proposal(deps: Deps, caller: Caller, trigger_id: str) -> None:
    """`/ptm partnership`: the proposal form, if this admin may propose one here, or the
    answer form when the other company proposed one to us (else the DomainError says where
    things stand, as the command's answer)."""
    channel = caller.channel_id
    teams = await deps.slack.other_teams(channel) if channel else []
    form = await services.proposal_form(deps.ctx, caller, other_teams=teams, channel_id=channel)
    view = build_answer_modal(form) if isinstance(form, AnswerForm) else build_propose_modal(form)
    await deps.slack.open_modal(trigger_id, view, for_user=caller.actor.user_id)


async def handle_start(ack: Any, body: dict[str, Any], context: Any) -> None:
    """App Home's *Propose a partnership*: the form with the companies one may propose to."""
    await ack()
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    try:
        form = await services.proposal_choices(deps.ctx, caller)
    except DomainError as err:
        await _say(deps, caller, err.message)
        return
    await deps.slack.open_modal(
        body["trigger_id"], build_propose_modal(form), for_user=caller.actor.user_id
    )


def _chosen_company(view: dict[str, Any]) -> int | None:
    values = view.get("state", {}).get("values", {})
    picked = values.get(Field.PARTNERSHIP_WITH, {}).get(INPUT_ACTION, {}).get("selected_option")
    value = str((picked or {}).get("value") or "")
    return int(value) if value.isdigit() and len(value) <= 12 else None


def _shares(view: dict[str, Any]) -> list[str]:
    state = view.get("state", {}).get("values", {}).get(Field.SHARES, {}).get(INPUT_ACTION, {})
    return [str(o.get("value")) for o in state.get("selected_options") or []]


def _metadata(deps: Deps, view: dict[str, Any], caller: Caller) -> str:
    raw = deps.slack.modal_metadata(view, caller.actor.user_id)
    if raw is None:
        raise BadInput(
            "This form was opened for someone else, or by an older version of PTM, so nothing "
            "was saved. Open it again."
        )
    return raw


async def handle_propose_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    try:
        meta = ProposalMeta.decode(_metadata(deps, view, caller))
        caller = caller_from_interaction(body, context, channel_id=meta.channel)
        other = _chosen_company(view) if meta.other == CHOSEN_IN_FORM else meta.other
        if meta.other == CHOSEN_IN_FORM and other is not None:
            # Picked in the form: it must still be one this admin may propose to.
            choices = await services.proposal_choices(deps.ctx, caller)
            if other not in {t for t, _ in choices.choices}:
                raise BadInput("That company cannot be proposed to; open the form again.")
        outcome = await services.propose(
            deps.ctx, caller, other=other, shares=_shares(view), channel_id=meta.channel
        )
    except DomainError as err:
        await _refuse(ack, err)
        return
    await ack()
    await _done(deps, caller, outcome)


async def handle_accept_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    try:
        meta = PartnershipRef.decode(_metadata(deps, view, caller))
        outcome = await services.make_move(
            deps.ctx, caller, meta.p, Move.ACCEPT, seen_version=meta.v, shares=_shares(view)
        )
    except DomainError as err:
        await _refuse(ack, err)
        return
    await ack()
    await _done(deps, caller, outcome)


async def _refuse(ack: Any, err: DomainError) -> None:
    """What was chosen stays in the form with why; any other refusal replaces it."""
    if isinstance(err, BadInput) and "share" in err.message.lower():
        await ack(response_action="errors", errors={Field.SHARES.value: err.message[:1900]})
    else:
        await ack(response_action="update", view=build_notice_modal("PTM", err.message))


async def handle_review(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    try:
        ref = PartnershipRef.decode(action_value(body))
        form = await services.answer_form(deps.ctx, caller, ref.p)
    except DomainError as err:
        await _say(deps, caller, err.message)
        return
    await deps.slack.open_modal(
        body["trigger_id"], build_answer_modal(form), for_user=caller.actor.user_id
    )


async def handle_move(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    what = ACTION_MOVES[body["actions"][0]["action_id"]]
    try:
        ref = PartnershipRef.decode(action_value(body))
        outcome = await services.make_move(deps.ctx, caller, ref.p, what, seen_version=ref.v)
    except DomainError as err:
        await _say(deps, caller, err.message)
        return
    await _done(deps, caller, outcome)


async def _done(deps: Deps, caller: Caller, outcome: Outcome) -> None:
    await _say(deps, caller, outcome.notice)
    if outcome.tell is not None:
        await _tell_other(deps, outcome.tell)
    await _redraw(deps, outcome)


async def _redraw(deps: Deps, outcome: Outcome) -> None:
    """Every card the two companies share shows the new policy (or the pause) at once: ours
    with our token, theirs through their own installation (only it may update its cards)."""
    for deal_id in outcome.ours_to_redraw:
        await deps.cards.sync(deal_id)
    if outcome.theirs_to_redraw and outcome.tell is not None and deps.peer is not None:
        theirs = await deps.peer(outcome.tell.tenant)
        for deal_id in outcome.theirs_to_redraw if theirs is not None else ():
            await theirs.cards.sync(deal_id)


async def _say(deps: Deps, caller: Caller, notice: str) -> None:
    """The admin's App Home shows where things stand now, with the answer on top; where they
    acted from a channel (or their DM with PTM), the answer is there too."""
    if caller.channel_id:
        await deps.slack.try_ephemeral(
            caller.channel_id, caller.actor.user_id, build_notice(notice)
        )
    await deps.homes.publish_now(caller.actor.user_id, notice)


async def _tell_other(deps: Deps, tell: Tell) -> None:
    """DM the other company's admins through their own installation; their Homes follow."""
    peer = await deps.peer(tell.tenant) if deps.peer is not None else None
    if peer is None:
        log.warning(
            "partnership %s: the other company has no installation to tell", tell.partnership_id
        )
        return
    for admin in tell.admins:
        try:
            await peer.slack.direct_message(admin, build_partnership_dm(tell))
        except Exception:  # one admin unreachable must not keep the others from hearing
            log.exception("could not tell an admin of tenant %s", tell.tenant)
    peer.homes.refresh(tell.admins)
