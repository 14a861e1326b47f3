"""Modal submissions: new deal, edit deal, next step. Field problems stay in the modal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp

from blocks.ids import Callback
from blocks.metadata import EditDealMeta, NewDealMeta, NextStepMeta
from blocks.modals import build_notice_modal, read_inputs
from blocks.replies import build_notice
from bot import forms, services
from bot.deps import Deps, deps_of
from bot.domain import BadInput, Conflict, DomainError, Role, Source, Stage
from bot.scheduling import deliver_outbox
from bot.services import Caller
from bot.viewmodels import Reply
from handlers.parsing import caller_from_interaction
from handlers.publish import publish

M = TypeVar("M", NewDealMeta, EditDealMeta, NextStepMeta)


def register(app: AsyncApp) -> None:
    app.view(Callback.NEW_DEAL.value)(handle_new_deal_submission)
    app.view(Callback.EDIT_DEAL.value)(handle_edit_deal_submission)
    app.view(Callback.NEXT_STEP.value)(handle_next_step_submission)
    app.view(Callback.LOG_OUTCOME.value)(handle_log_outcome_submission)


async def handle_log_outcome_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    if (opened := await _opened(ack, NextStepMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened

    async def run() -> Reply:
        form = forms.read_outcome(read_inputs(view))
        return await services.log_outcome(
            deps.ctx,
            caller,
            text=str(form["outcome"]),
            connected=deps.crm.connected,
            deal_id=meta.d,
            meeting_date=form["meeting_date"],  # type: ignore[arg-type]
            result=str(form["result"]),
            source=Source.MODAL,
        )

    reply = await _submit(ack, run, error_field="outcome")
    if reply is None:
        return
    await _finish(deps, caller, reply)
    await deliver_outbox(deps)


async def handle_new_deal_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    if (opened := await _opened(ack, NewDealMeta, body, view, context)) is None:
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
    if (opened := await _opened(ack, EditDealMeta, body, view, context)) is None:
        return
    deps, meta, caller = opened
    try:
        internal = caller.actor.internal
        submitted = forms.read_deal_fields(read_inputs(view), internal=internal)
        reply = await services.edit_deal(
            deps.ctx, caller, meta.d, shown=meta.shown, submitted=submitted
        )
    except forms.FormErrors as err:
        await ack(response_action="errors", errors=err.errors)
        return
    except Conflict as err:
        await ack(
            response_action="errors", errors=dict.fromkeys(err.fields or ("name",), err.message)
        )
        return
    except DomainError as err:
        await ack()
        await _tell(deps, caller, err.message)
        return
    await ack()
    await _finish(deps, caller, reply)


async def handle_next_step_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    if (opened := await _opened(ack, NextStepMeta, body, view, context)) is None:
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

    reply = await _submit(ack, run, error_field="step_text")
    if reply is not None:
        await _finish(deps, caller, reply)


async def _opened(
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


async def _submit(
    ack: Any, run: Callable[[], Awaitable[Reply]], *, error_field: str
) -> Reply | None:
    """Run a modal's use case before acking, so problems show next to the fields; None if so."""
    try:
        reply = await run()
    except forms.FormErrors as err:
        await ack(response_action="errors", errors=err.errors)
        return None
    except DomainError as err:
        await ack(response_action="errors", errors={error_field: err.message[:1900]})
        return None
    await ack()
    return reply


async def _finish(deps: Deps, caller: Caller, reply: Reply) -> None:
    problem = await publish(deps, reply, caller)
    if problem:
        await _tell(deps, caller, problem)


async def _tell(deps: Deps, caller: Caller, text: str) -> None:
    if caller.channel_id:
        await deps.slack.ephemeral(caller.channel_id, caller.actor.user_id, build_notice(text))
