"""The admin section of App Home: add and remove admins, the digest hour, CRM connectors.

Every answer — done, or why not — is drawn on the admin's Home at once (a Home tab has no
channel for an ephemeral message).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.ids import Action, Callback, Field
from blocks.metadata import ConnectorMeta
from blocks.modals import build_connector_modal, build_notice_modal, read_inputs
from bot import services
from bot.app.deps import Deps, deps_of
from bot.domain.model import BadInput, DomainError
from bot.services import Caller
from handlers.parsing import action_value, caller_from_interaction


def register(app: AsyncApp) -> None:
    app.action(Action.ADMIN_ADD.value)(handle_admin_add)
    app.action(Action.ADMIN_REMOVE.value)(handle_admin_remove)
    app.action(Action.DIGEST_HOUR.value)(handle_digest_hour)
    app.action(Action.PARTNERS_SEE.value)(handle_partners_see)
    app.action(Action.CRM_CONNECTOR.value)(handle_connector_open)
    app.view(Callback.CRM_CONNECTOR.value)(handle_connector_submission)


async def _answer(deps: Deps, caller: Caller, change: Awaitable[str]) -> None:
    try:
        notice = await change
    except DomainError as err:
        notice = err.message
    await deps.homes.publish_now(caller.actor.user_id, notice)


async def handle_partners_see(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    visible = action_value(body) == "yes"
    await _answer(deps, caller, services.set_partners_see_each_other(deps.ctx, caller, visible))


async def handle_admin_add(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    chosen = str(body["actions"][0].get("selected_user") or "")
    await _answer(deps, caller, services.add_admin(deps.ctx, caller, chosen))


async def handle_admin_remove(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    await _answer(deps, caller, services.remove_admin(deps.ctx, caller, action_value(body)))


async def handle_digest_hour(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    await _answer(deps, caller, services.set_digest_hour(deps.ctx, caller, action_value(body)))


async def handle_connector_open(ack: Any, body: dict[str, Any], context: Any) -> None:
    await ack()
    deps, caller = deps_of(context), caller_from_interaction(body, context)
    try:
        form = await services.connector_form(deps.ctx, caller, action_value(body))
    except DomainError as err:
        await deps.homes.publish_now(caller.actor.user_id, err.message)
        return
    await deps.slack.open_modal(
        body["trigger_id"], build_connector_modal(form), for_user=caller.actor.user_id
    )


async def handle_connector_submission(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any
) -> None:
    """Problems with what was typed stay in the modal, next to the field; a refusal (no
    longer an admin, another admin changed it meanwhile) replaces the modal with why."""
    deps = deps_of(context)
    caller = caller_from_interaction(body, context)
    raw = deps.slack.modal_metadata(view, caller.actor.user_id)
    try:
        if raw is None:
            raise BadInput(
                "This form was opened for someone else, or by an older version of PTM, so "
                "nothing was saved. Open it again from App Home."
            )
        meta = ConnectorMeta.decode(raw)
        typed = read_inputs(view)
        notice = await services.set_connector(
            deps.ctx,
            caller,
            meta.side,
            kind=typed.get(Field.CRM_KIND) or "",
            url=typed.get(Field.CRM_URL) or "",
            secret=typed.get(Field.CRM_SECRET),
            seen_version=meta.v,
            client_id=typed.get(Field.CRM_CLIENT_ID) or "",
            webhook_secret=typed.get(Field.CRM_WEBHOOK_SECRET),
        )
    except BadInput as err:
        field = _field_of(err.message)
        await ack(response_action="errors", errors={field.value: err.message[:1900]})
        return
    except DomainError as err:
        await ack(response_action="update", view=build_notice_modal("PTM", err.message))
        return
    await ack()
    await deps.homes.publish_now(caller.actor.user_id, notice)


def _field_of(message: str) -> Field:
    """The form field a refusal is about, to show it next to it."""
    lowered = message.lower()
    if "notification secret" in lowered:
        return Field.CRM_WEBHOOK_SECRET
    if "client id" in lowered or "consumer key" in lowered:
        return Field.CRM_CLIENT_ID
    return Field.CRM_SECRET if "secret" in lowered else Field.CRM_URL
