"""The `/ptm` slash command: ack with the answer, then post or re-sync cards."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.modals import build_new_deal_modal
from blocks.replies import build_deal_list, build_help, build_notice
from bot import intents, services
from bot.deps import deps_of
from bot.domain import DomainError
from bot.viewmodels import Reply
from handlers.parsing import caller_from_command
from handlers.publish import publish


def register(app: AsyncApp) -> None:
    app.command("/ptm")(handle_ptm_command)


async def handle_ptm_command(ack: Any, command: dict[str, Any], context: Any, respond: Any) -> None:
    """Parse, run the use case, answer ephemerally; slow Slack work happens after the ack."""
    deps = deps_of(context)
    caller = caller_from_command(command, context)
    try:
        parsed = intents.parse_command(command.get("text", ""), today=deps.ctx.today())
        if isinstance(parsed.intent, intents.Help):
            await ack(**build_help())
            return
        if isinstance(parsed.intent, intents.NewDeal) and parsed.intent.name is None:
            await ack()
            await deps.slack.open_modal(
                command["trigger_id"], build_new_deal_modal(caller.channel_id)
            )
            return
        reply = await services.run_intent(deps.ctx, caller, parsed)
    except DomainError as err:
        await ack(**build_notice(err.message))
        if err.deal_id is not None:
            await deps.cards.sync(err.deal_id)
        return
    await ack(**_render(reply))
    problem = await publish(deps, reply, caller)
    if problem:
        await respond(response_type="ephemeral", replace_original=False, **build_notice(problem))


def _render(reply: Reply) -> dict[str, Any]:
    if reply.kind == "list":
        return build_deal_list(reply.lines)
    return build_notice(reply.text)
