"""Modal submissions: new deal, edit deal, next step. Field problems stay in the modal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp

from blocks.ids import Callback
from blocks.metadata import EditDealMeta, NewDealMeta, NextStepMeta, OwnFieldsMeta
from blocks.modals import build_notice_modal, read_inputs
from blocks.replies import build_notice
from bot import services
from bot.app.deps import Deps, deps_of
from bot.app.scheduling import deliver_outbox
from bot.domain import forms
from bot.domain.model import BadInput, Conflict, DomainError, Role, Source, Stage
from bot.services import Caller
from bot.views.models import Reply
from handlers.answering import within_budget
from handlers.parsing import caller_from_interaction
from handlers.publish import publish

M = TypeVar("M", NewDealMeta, EditDealMeta, NextStepMeta)


def register(app: AsyncApp) -> None:
    app.view(Callback.NEW_DEAL.value)(handle_new_deal_submission)
    app.view(Callback.EDIT_DEAL.value)(handle_edit_deal_submission)
    app.view(Callback.NEXT_STEP.value)(handle_next_step_submission)
    app.view(Callback.LOG_OUTCOME.value)(handle_log_outcome_submission)
    app.view(Callback.OWN_FIELDS.value)(handle_own_fields_submission)
    app.view(Callback.PARTNERS.value)(handle_partners_submission)


async def handle_partners_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    """Add a partner company (by its rep) and/or remove one, from the card's menu."""
    if (opened := await opened_modal(ack, NextStepMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened
    values = read_inputs(view)
    adding, removing = values.get("partner_add"), values.get("partner_remove")
    kind = values.get("partner_kind") or "other"

    async def run() -> Reply:
        if not adding and not removing:
            raise forms.FormErrors({"partner_add": "Choose a rep to add, or a company to remove."})
        replies = []
        if removing:
            replies.append(
                await services.remove_partner_company(
                    deps.ctx, caller, meta.d, removing, source=Source.MODAL
                )
            )
        if adding:
            replies.append(
                await services.add_partner_company(
                    deps.ctx, caller, meta.d, adding, kind, source=Source.MODAL
                )
            )
        return replace(replies[-1], text=" ".join(r.text for r in replies), changed=True)

    reply = await submit_modal(ack, run, deps, caller, errors_for=_on("partner_add"))
    if reply is not None:
        await _finish(deps, caller, reply)


async def handle_own_fields_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    """A partner company's own notes on a shared deal: saved for that company only."""
    if (opened := await opened_modal(ack, OwnFieldsMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened

    async def run() -> Reply:
        said = await services.save_own_fields(
            deps.ctx, caller, meta.d, read_inputs(view), seen_version=meta.v
        )
        return Reply(text=said)

    reply = await submit_modal(ack, run, deps, caller, errors_for=_on("internal_notes"))
    if reply is not None:
        await _tell(deps, caller, reply.text)


async def handle_log_outcome_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    if (opened := await opened_modal(ack, NextStepMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened

    async def run() -> Reply:
        form = forms.read_outcome(read_inputs(view))
        return await services.log_outcome(
            deps.ctx,
            caller,
            text=str(form["outcome"]),
            connected=await deps.crm.connected(),
            deal_id=meta.d,
            meeting_date=form["meeting_date"],  # type: ignore[arg-type]
            result=str(form["result"]),
            source=Source.MODAL,
        )

    reply = await submit_modal(ack, run, deps, caller, errors_for=_on("outcome"))
    if reply is None:
        return
    await _finish(deps, caller, reply)
    await deliver_outbox(deps)


async def handle_new_deal_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    if (opened := await opened_modal(ack, NewDealMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened
    try:
        fields, stage = forms.read_new_deal(read_inputs(view))
    except forms.FormErrors as err:
        await ack(response_action="errors", errors=err.errors)
        return
    await ack()
    name, account = str(fields.pop("name")), str(fields.pop("account"))
    assert isinstance(stage, Stage)
    reply = await services.create_deal(
        deps.ctx, caller, name=name, account=account, fields=fields, stage=stage
    )
    await _finish(deps, caller, reply)


async def handle_edit_deal_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    if (opened := await opened_modal(ack, EditDealMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened

    async def run() -> Reply:
        internal = caller.actor.internal
        submitted = forms.read_deal_fields(read_inputs(view), internal=internal)
        return await services.edit_deal(
            deps.ctx, caller, meta.d, shown=meta.shown, submitted=submitted
        )

    def errors_for(err: DomainError) -> dict[str, str] | None:
        if isinstance(err, Conflict):
            return dict.fromkeys(err.fields or ("name",), err.message)
        return None  # e.g. not allowed: said in the channel, the modal closes

    reply = await submit_modal(ack, run, deps, caller, errors_for=errors_for)
    if reply is not None:
        await _finish(deps, caller, reply)


async def handle_next_step_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    if (opened := await opened_modal(ack, NextStepMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened

    async def run() -> Reply:
        form = forms.read_next_step(read_inputs(view), today=deps.ctx.today())
        role = form["step_owner"]
        return await services.set_next(
            deps.ctx,
            caller,
            meta.d,
            str(form["step_text"]),
            role=role if isinstance(role, Role) else None,
            user_id=None,
            due=form["step_due"],  # type: ignore[arg-type]
            source=Source.MODAL,
        )

    reply = await submit_modal(ack, run, deps, caller, errors_for=_on("step_text"))
    if reply is not None:
        await _finish(deps, caller, reply)


async def opened_modal(
    ack: Any, meta_type: type[M], body: dict[str, Any], view: dict[str, Any], context: Any
) -> tuple[Deps, M, Caller] | None:
    """What every submission starts from: the deps, the modal's metadata, who submitted it
    (and from which channel the modal was opened). A modal that was not opened for the
    submitter (or whose metadata does not read) changes nothing and says so in the modal."""
    deps = deps_of(context)
    submitter = str(body.get("user", {}).get("id", ""))
    raw = deps.slack.modal_metadata(view, submitter)
    try:
        if raw is None:
            raise BadInput(
                "This form was opened for someone else, or by an older version of PTM, so "
                "nothing was saved. Open it again from the card."
            )
        meta = meta_type.decode(raw)
    except DomainError as err:
        await ack(response_action="update", view=build_notice_modal("PTM", err.message))
        return None
    caller = caller_from_interaction(body, context, channel_id=meta.channel)
    return deps, meta, caller


def _on(field: str) -> Callable[[DomainError], dict[str, str]]:
    """Show any refusal next to one field of the modal."""
    return lambda err: {field: err.message[:1900]}


async def submit_modal(
    ack: Any,
    run: Callable[[], Awaitable[Reply]],
    deps: Deps,
    caller: Caller,
    *,
    errors_for: Callable[[DomainError], dict[str, str] | None],
) -> Reply | None:
    """Run a modal's use case before acking, so problems show next to the fields; None if
    refused. Should the work outlast Slack's 3 seconds, the modal is closed at once and the
    answer follows as an ephemeral (handlers.answering)."""
    acked = False

    async def close_modal() -> None:
        nonlocal acked
        acked = True
        await ack()

    try:
        reply = await within_budget(run(), close_modal)
    except DomainError as err:
        field_errors = err.errors if isinstance(err, forms.FormErrors) else errors_for(err)
        if acked or not field_errors:
            if not acked:
                await ack()
            await _tell(deps, caller, err.message)
        else:
            await ack(response_action="errors", errors=field_errors)
        return None
    if acked:
        await _tell(deps, caller, reply.text)
    else:
        await ack()
    return reply


async def _finish(deps: Deps, caller: Caller, reply: Reply) -> None:
    problem = await publish(deps, reply, caller)
    if problem:
        await _tell(deps, caller, problem)


async def _tell(deps: Deps, caller: Caller, text: str) -> None:
    """An ephemeral where the modal was opened; a DM when that cannot reach the user."""
    message, user = build_notice(text), caller.actor.user_id
    if caller.channel_id and await deps.slack.try_ephemeral(caller.channel_id, user, message):
        return
    await deps.slack.direct_message(user, message)
