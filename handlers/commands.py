"""The `/ptm` slash command: ack with the answer, then post or re-sync cards."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from blocks.brief import build_brief_message
from blocks.metrics import activation_line, build_metrics, trend_line
from blocks.modals import build_new_deal_modal
from blocks.partners import build_find_results
from blocks.replies import build_help, build_notice, build_reply
from bot import services
from bot.app.deps import Deps, deps_of
from bot.app.scheduling import deliver_outbox, run_digests
from bot.domain import grammar, intents
from bot.domain.metrics import MetricsReport
from bot.domain.model import DomainError
from bot.services import Caller
from bot.views.models import Reply
from briefs.render import render_brief, render_digest
from handlers.answering import CommandAnswer, within_budget
from handlers.cosell import answer_aws_command
from handlers.parsing import caller_from_command
from handlers.partnerships import open_proposal
from handlers.publish import publish


def register(app: AsyncApp) -> None:
    app.command("/ptm")(handle_ptm_command)


async def handle_ptm_command(ack: Any, command: dict[str, Any], context: Any, respond: Any) -> None:
    """Parse, run the use case, answer ephemerally; slow Slack work happens after the ack.
    Whatever the command, it is acknowledged within Slack's 3 seconds (handlers.answering)."""
    deps = deps_of(context)
    caller = caller_from_command(command, context)
    answer = CommandAnswer(ack, respond)
    try:
        await within_budget(_run_command(answer, respond, deps, caller, command), answer.hold)
    except DomainError as err:
        await answer(**build_notice(err.message))
        if err.deal_id is not None:
            await deps.cards.sync(err.deal_id)


@dataclass(frozen=True)
class _Command:
    """One `/ptm` request as its handlers need it."""

    answer: CommandAnswer
    respond: Any
    deps: Deps
    caller: Caller
    trigger_id: str
    parsed: intents.Parsed


async def _run_command(
    answer: CommandAnswer, respond: Any, deps: Deps, caller: Caller, command: dict[str, Any]
) -> None:
    """One row of `_HANDLERS` per intent that needs more than a use case and its answer (a
    form, an answer built elsewhere, work after the answer); every other intent is a change
    or a read of one deal (`services.run_intent`)."""
    parsed = grammar.parse_command(command.get("text", ""), today=deps.ctx.today())
    request = _Command(answer, respond, deps, caller, str(command.get("trigger_id", "")), parsed)
    handler = _HANDLERS.get(type(parsed.intent), _run_use_case)
    await handler(request, parsed.intent)


async def _run_use_case(c: _Command, _intent: object) -> None:
    await _answer_and_publish(c, await services.run_intent(c.deps.ctx, c.caller, c.parsed))


async def _link(c: _Command, intent: intents.LinkCrm) -> None:
    """`/ptm link`: reading the record may take the CRM a moment; within_budget answers
    through response_url when it does."""
    port = c.deps.crm.connector
    number = c.parsed.deal_number
    reply = await services.link_named_deal(c.deps.ctx, c.caller, number, intent.reference, port)
    await _answer_and_publish(c, reply)


async def _new_from_crm(c: _Command, intent: intents.NewFromCrm) -> None:
    port = c.deps.crm.connector
    await _answer_and_publish(
        c, await services.new_from_record(c.deps.ctx, c.caller, intent.reference, port)
    )


async def _answer_and_publish(c: _Command, reply: Reply) -> None:
    await c.answer(**build_reply(reply))
    problem = await publish(c.deps, reply, c.caller)
    if problem:
        await c.respond(response_type="ephemeral", replace_original=False, **build_notice(problem))


async def _help(c: _Command, _intent: intents.Help) -> None:
    await c.answer(**build_help())


async def _find(c: _Command, intent: intents.FindPartner) -> None:
    number = c.parsed.deal_number
    found = await services.find_partners(c.deps.ctx, c.caller, intent.words, deal_number=number)
    await c.answer(**build_find_results(found))


async def _log(c: _Command, intent: intents.LogOutcome) -> None:
    reply = await services.log_outcome(
        c.deps.ctx,
        c.caller,
        text=intent.text,
        connected=await c.deps.crm.connected(),
        deal_number=c.parsed.deal_number,
    )
    await c.answer(**build_notice(reply.text))
    await publish(c.deps, reply, c.caller)
    await deliver_outbox(c.deps)


async def _new(c: _Command, intent: intents.NewDeal) -> None:
    if intent.name is not None:
        await _run_use_case(c, intent)
        return
    await c.answer()  # no name: the form with every field
    modal = build_new_deal_modal(c.caller.channel_id)
    await c.deps.slack.open_modal(c.trigger_id, modal, for_user=c.caller.actor.user_id)


_HANDLERS: dict[type, Callable[[_Command, Any], Awaitable[None]]] = {
    intents.Help: _help,
    intents.FindPartner: _find,
    intents.Brief: lambda c, i: _brief(c.answer, c.deps, c.caller, i, c.parsed.deal_number),
    intents.LogOutcome: _log,
    intents.ShowMetrics: lambda c, i: _metrics(
        c.answer, c.respond, c.deps, c.caller, chart=i.chart
    ),
    intents.SendDigest: lambda c, _i: _send_digest_now(c.answer, c.deps, c.caller.actor.user_id),
    intents.NewDeal: _new,
    intents.NewFromCrm: _new_from_crm,
    intents.LinkCrm: _link,
    intents.CoSellAws: lambda c, _i: answer_aws_command(
        c.answer, c.deps, c.caller, c.parsed.deal_number
    ),
    intents.ProposePartnership: lambda c, _i: _partnership(c),
}


async def _partnership(c: _Command) -> None:
    await open_proposal(c.deps, c.caller, c.trigger_id)
    await c.answer()


async def _brief(
    answer: CommandAnswer, deps: Deps, caller: Caller, intent: intents.Brief, number: int | None
) -> None:
    """`/ptm brief [ask]` posts it under the card here; `/ptm brief preview` shows the caller
    exactly what the partner's side would see."""
    if intent.preview:
        view = await services.preview_brief(deps.ctx, caller, deal_number=number, ask=intent.ask)
        await answer(**build_brief_message(render_brief(view), preview=True))
        return
    post = await services.post_brief(deps.ctx, caller, deal_number=number, ask=intent.ask)
    await answer(**build_notice(post.reply.text))
    await deps.slack.post(
        caller.channel_id or "",
        build_brief_message(render_brief(post.view)),
        thread_ts=post.thread_ts,
    )
    await publish(deps, post.reply, caller)


async def _metrics(
    answer: CommandAnswer, respond: Any, deps: Deps, caller: Caller, *, chart: bool
) -> None:
    """Counting can take a moment over many deals: ack at once, answer through response_url.
    Who may see metrics is checked before the ack, so a refusal is the answer itself."""
    services.require_our_org(caller)
    if not chart:
        await answer()
        report = await services.measure(deps.ctx, caller)
        await respond(response_type="ephemeral", **build_metrics(report))
        return
    await answer(**build_notice("Drawing the trend picture; it will be in your DMs with PTM."))
    report = await services.measure(deps.ctx, caller)
    picture = await asyncio.to_thread(_draw, report)
    try:
        await deps.slack.upload_to_dm(
            caller.actor.user_id,
            filename=f"ptm-metrics-{report.period.until.isoformat()}.png",
            data=picture,
            title=f"PTM co-sell metrics, {report.period.label()}",
            comment=f"{activation_line(report)}\n{trend_line(report)}",
            alt=f"Weekly seller activation and win rates, {report.scope}, {report.period.label()}",
        )
    except SlackApiError as err:
        problem = (
            f"Slack did not take the picture ({err.response.get('error', 'error')}). "
            "`/ptm metrics` shows the same figures; try the chart again in a minute."
        )
        await respond(response_type="ephemeral", replace_original=False, **build_notice(problem))


def _draw(report: MetricsReport) -> bytes:
    """Runs in a worker thread. matplotlib is imported on first use, there too: plotting is
    rare, and loading it takes long enough to stall every other request on the event loop."""
    from bot.adapters.charts import render_chart

    return render_chart(report)


async def _send_digest_now(answer: CommandAnswer, deps: Deps, user_id: str) -> None:
    """`/ptm digest`: today's digest now, in the DM; at most one DM a day all the same."""
    status, view = await services.digest_today(deps.ctx, user_id)
    if status == "sent":
        notice = "You already got today's digest. Here is how things stand now:\n\n"
        await answer(**build_notice(notice + render_digest(view)))
        return
    if view.is_empty:
        await answer(**build_notice("Nothing to report: no open steps, changes or quiet deals."))
        return
    await answer(**build_notice("Your digest is on its way to your direct messages with PTM."))
    await run_digests(deps, hour=0, only={user_id})
