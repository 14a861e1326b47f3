"""Card controls (block_actions): stage select, step done, set next step, synced, more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.brief import build_brief_message
from blocks.digest import build_pause_notice
from blocks.ids import Action, MoreOption
from blocks.metadata import AttachChoice, CardRef
from blocks.modals import (
    build_edit_deal_modal,
    build_log_outcome_modal,
    build_next_step_modal,
    build_own_fields_modal,
    build_partners_modal,
)
from blocks.partners import build_find_results
from blocks.replies import build_history, build_internal_notice, build_notice
from bot import services
from bot.app.deps import Deps, deps_of
from bot.domain.inputs import parse_stage
from bot.domain.model import DomainError, Source
from bot.services import Caller
from briefs.render import render_brief
from handlers.parsing import action_value, caller_from_interaction, card_block_id
from handlers.publish import publish, tell_privately


def register(app: AsyncApp) -> None:
    app.action(Action.STAGE_SELECT.value)(handle_card_stage)
    app.action(Action.STEP_DONE.value)(handle_card_step_done)
    app.action(Action.STEP_SET.value)(handle_card_step_set)
    app.action(Action.SYNCED.value)(handle_card_synced)
    app.action(Action.MORE.value)(handle_card_more)
    app.action(Action.LOG_OUTCOME.value)(handle_card_log_outcome)
    app.action(Action.DIGEST_PAUSE.value)(handle_digest_pause)
    app.action(Action.ATTACH_PARTNER.value)(handle_attach_partner)
    app.action(Action.DIGEST_RESUME.value)(handle_digest_pause)
    app.action(Action.REOPEN.value)(handle_card_reopen)


async def handle_digest_pause(ack: Any, body: dict[str, Any], context: Any) -> None:
    """The digest's own button: pause or resume one's digests; the choice persists."""
    await ack()
    click = clicked(body, context)
    deps, caller = click.deps, click.caller
    paused = body["actions"][0]["action_id"] == Action.DIGEST_PAUSE
    await services.set_paused(deps.ctx, caller.actor.user_id, paused)
    if caller.channel_id:
        await deps.slack.post(caller.channel_id, build_pause_notice(paused))


async def handle_card_stage(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    await _run(
        context,
        body,
        lambda d, c, ref: services.move_stage(
            d.ctx, c, ref.d, parse_stage(action_value(body)), source=Source.BUTTON
        ),
    )


async def handle_card_reopen(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    await _run(
        context,
        body,
        lambda d, c, ref: services.reopen(d.ctx, c, ref.d, source=Source.BUTTON),
        always_tell=True,
    )


async def handle_card_step_done(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    step_id = int(action_value(body)) if action_value(body).isdigit() else -1
    await _run(
        context,
        body,
        lambda d, c, ref: services.complete_step(
            d.ctx, c, ref.d, step_id=step_id, source=Source.BUTTON
        ),
    )


async def handle_card_synced(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    await _run(
        context,
        body,
        lambda d, c, ref: services.mark_synced(d.ctx, c, ref.d, ref.v),
        always_tell=True,
    )


async def handle_card_step_set(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    await _open_form(
        body,
        context,
        services.next_step_form_for,
        lambda form, channel: build_next_step_modal(form, channel),
    )


async def handle_card_log_outcome(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    await _open_form(
        body,
        context,
        services.next_step_form_for,  # also checks the clicker may change the deal
        lambda form, channel: build_log_outcome_modal(
            form.deal_id, form.key, form.version, channel
        ),
    )


async def _open_form(
    body: dict[str, Any],
    context: Any,
    load: Callable[[Any, Caller, int], Awaitable[Any]],
    build: Callable[[Any, str | None], dict[str, Any]],
) -> None:
    """A card button that opens a modal: the deal from the card, its form (which checks the
    clicker's right), a refusal told privately, else the modal sealed to the clicker."""
    click = clicked(body, context)
    deps, caller = click.deps, click.caller
    try:
        ref = CardRef.from_block_id(card_block_id(body))
        form = await load(deps.ctx, caller, ref.d)
    except DomainError as err:
        await click.tell(err.message)
        return
    await deps.slack.open_modal(
        body["trigger_id"], build(form, caller.channel_id), for_user=caller.actor.user_id
    )


async def handle_card_more(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    click = clicked(body, context)
    deps, caller = click.deps, click.caller
    try:
        ref = CardRef.from_block_id(card_block_id(body))
        choice = action_value(body)
        if choice == MoreOption.HISTORY:
            await click.send(build_history(await services.history(deps.ctx, caller, ref.d)))
            return
        if choice == MoreOption.BRIEF:
            post = await services.post_brief(
                deps.ctx, caller, deal_number=None, deal_id=ref.d, source=Source.BUTTON
            )
            message = build_brief_message(render_brief(post.view))
            await deps.slack.post(caller.channel_id or "", message, thread_ts=post.thread_ts)
            await publish(deps, post.reply, caller)
            return
        if choice == MoreOption.FIND:
            found = await services.find_partners(deps.ctx, caller, "", deal_number=ref.d)
            await click.send(build_find_results(found))
            return
        if choice == MoreOption.INTERNAL and caller.actor.internal:
            key, internal = await services.internal_view_for(deps.ctx, caller, ref.d)
            await click.send(build_internal_notice(key, internal))
            return
        if choice == MoreOption.PARTNERS:
            partners = await services.partners_form(deps.ctx, caller, ref.d)
            modal = build_partners_modal(partners, caller.channel_id)
        elif choice == MoreOption.INTERNAL:
            # Someone of a partner company: their own company's notes on this deal.
            own = await services.own_fields_form(deps.ctx, caller, ref.d)
            modal = build_own_fields_modal(own, caller.channel_id)
        else:
            form = await services.edit_form_for(deps.ctx, caller, ref.d)
            modal = build_edit_deal_modal(form, caller.channel_id)
    except DomainError as err:
        await click.tell(err.message)
        return
    await deps.slack.open_modal(body["trigger_id"], modal, for_user=caller.actor.user_id)


async def handle_attach_partner(ack: Any, body: dict[str, Any], context: Any) -> None:
    """ "Attach to PTM-n" on a find result: sets the deal's partner, marks *match* done."""
    await ack()
    click = clicked(body, context)
    deps, caller = click.deps, click.caller
    try:
        choice = AttachChoice.decode(action_value(body))
        reply = await services.attach_partner(deps.ctx, caller, choice.d, choice.p)
    except DomainError as err:
        await click.tell(err.message)
        return
    await publish(deps, reply, caller)
    await click.tell(reply.text)


async def _run(
    context: Any, body: dict[str, Any], use_case: Any, *, always_tell: bool = False
) -> None:
    """Run a card use case; errors and (optionally) results go to the clicker only."""
    click = clicked(body, context)
    deps, caller = click.deps, click.caller
    try:
        ref = CardRef.from_block_id(card_block_id(body))
        reply = await use_case(deps, caller, ref)
    except DomainError as err:
        await click.tell(err.message)
        if err.deal_id is not None:
            await deps.cards.sync(err.deal_id)
        return
    await publish(deps, reply, caller)
    if always_tell or not reply.changed:
        await click.tell(reply.text)


@dataclass(frozen=True)
class Click:
    """Who clicked what, and the ways back to them."""

    deps: Deps
    caller: Caller
    respond: Any  # the click's response_url, when Slack gave one

    async def tell(self, text: str) -> None:
        await self.send(build_notice(text))

    async def send(self, message: dict[str, Any]) -> None:
        await tell_privately(self.deps, self.caller, message, respond=self.respond)


def clicked(body: dict[str, Any], context: Any) -> Click:
    respond = context.respond if body.get("response_url") else None
    return Click(deps_of(context), caller_from_interaction(body, context), respond)
