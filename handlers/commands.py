"""The `/ptm` slash command: ack with the answer, then post or re-sync cards."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from blocks.brief import build_brief_message
from blocks.metrics import activation_line, build_metrics, trend_line
from blocks.modals import build_new_deal_modal
from blocks.partners import build_find_results
from blocks.replies import build_deal_list, build_help, build_notice
from bot import intents, services
from bot.deps import Deps, deps_of
from bot.domain import DomainError
from bot.metrics import MetricsReport
from bot.scheduling import deliver_outbox, run_digests
from bot.services import Caller
from bot.viewmodels import Reply
from briefs.render import render_brief, render_digest
from handlers.parsing import caller_from_command
from handlers.publish import publish


def register(app: AsyncApp) -> None:
    app.command("/ptm")(handle_ptm_command)


async def handle_ptm_command(ack: Any, command: dict[str, Any], context: Any, respond: Any) -> None:
    """Parse, run the use case, answer ephemerally; slow Slack work happens after the ack."""
    deps = deps_of(context)
    caller = caller_from_command(command, context)
    acked = False
    try:
        parsed = intents.parse_command(command.get("text", ""), today=deps.ctx.today())
        if isinstance(parsed.intent, intents.Help):
            await ack(**build_help())
            return
        if isinstance(parsed.intent, intents.FindPartner):
            found = await services.find_partners(
                deps.ctx, caller, parsed.intent.words, deal_number=parsed.deal_number
            )
            await ack(**build_find_results(found))
            return
        if isinstance(parsed.intent, intents.Brief):
            await _brief(ack, deps, caller, parsed.intent, parsed.deal_number)
            return
        if isinstance(parsed.intent, intents.LogOutcome):
            reply = await services.log_outcome(
                deps.ctx,
                caller,
                text=parsed.intent.text,
                connected=deps.crm.connected,
                deal_number=parsed.deal_number,
            )
            await ack(**build_notice(reply.text))
            await publish(deps, reply, caller)
            await deliver_outbox(deps)
            return
        if isinstance(parsed.intent, intents.ShowMetrics):
            await _metrics(ack, respond, deps, caller, chart=parsed.intent.chart)
            return
        if isinstance(parsed.intent, intents.SendDigest):
            await _send_digest_now(ack, deps, caller.actor.user_id)
            return
        if isinstance(parsed.intent, intents.NewDeal) and parsed.intent.name is None:
            await ack()
            await deps.slack.open_modal(
                command["trigger_id"],
                build_new_deal_modal(caller.channel_id),
                for_user=caller.actor.user_id,
            )
            return
        work = asyncio.ensure_future(services.run_intent(deps.ctx, caller, parsed))
        acked = await _ack_if_slow(ack, work)
        reply = await work
    except DomainError as err:
        await _answer(ack, respond, acked, build_notice(err.message))
        if err.deal_id is not None:
            await deps.cards.sync(err.deal_id)
        return
    await _answer(ack, respond, acked, _render(reply))
    problem = await publish(deps, reply, caller)
    if problem:
        await respond(response_type="ephemeral", replace_original=False, **build_notice(problem))


# Slack shows an error if a command is not answered within 3 seconds.
ACK_BUDGET = 2.0
HOLDING_NOTE = "Working on it: this deal is busy right now. Your answer follows in a moment."


async def _ack_if_slow(ack: Any, work: asyncio.Future[Any]) -> bool:
    """Give `work` the ack budget; if it is still running (a deal under a burst of changes, a
    slow database), ack now with a holding note. True when that happened: the real answer
    then goes through response_url."""
    done, _ = await asyncio.wait({work}, timeout=ACK_BUDGET)
    if done:
        return False
    await ack(**build_notice(HOLDING_NOTE))
    return True


async def _answer(ack: Any, respond: Any, acked: bool, message: dict[str, Any]) -> None:
    if acked:
        # A new ephemeral under the holding note (replacing a command's own ack is not
        # something Slack promises for slash commands).
        await respond(response_type="ephemeral", replace_original=False, **message)
    else:
        await ack(**message)


async def _brief(
    ack: Any, deps: Deps, caller: Caller, intent: intents.Brief, number: int | None
) -> None:
    """`/ptm brief [ask]` posts it under the card here; `/ptm brief preview` shows the caller
    exactly what the partner's side would see."""
    if intent.preview:
        view = await services.preview_brief(deps.ctx, caller, deal_number=number, ask=intent.ask)
        await ack(**build_brief_message(render_brief(view), preview=True))
        return
    post = await services.post_brief(deps.ctx, caller, deal_number=number, ask=intent.ask)
    await ack(**build_notice(post.reply.text))
    await deps.slack.post(
        caller.channel_id or "",
        build_brief_message(render_brief(post.view)),
        thread_ts=post.thread_ts,
    )
    await publish(deps, post.reply, caller)


async def _metrics(ack: Any, respond: Any, deps: Deps, caller: Caller, *, chart: bool) -> None:
    """Counting can take a moment over many deals: ack at once, answer through response_url.
    Who may see metrics is checked before the ack, so a refusal is the answer itself."""
    services.require_our_org(caller)
    if not chart:
        await ack()
        report = await services.measure(deps.ctx, caller)
        await respond(response_type="ephemeral", **build_metrics(report))
        return
    await ack(**build_notice("Drawing the trend picture; it will be in your DMs with PTM."))
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
    from bot.charts import render_chart

    return render_chart(report)


async def _send_digest_now(ack: Any, deps: Deps, user_id: str) -> None:
    """`/ptm digest`: today's digest now, in the DM; at most one DM a day all the same."""
    status, view = await services.digest_today(deps.ctx, user_id)
    if status == "sent":
        notice = "You already got today's digest. Here is how things stand now:\n\n"
        await ack(**build_notice(notice + render_digest(view)))
        return
    if view.is_empty:
        await ack(**build_notice("Nothing to report: no open steps, changes or quiet deals."))
        return
    await ack(**build_notice("Your digest is on its way to your direct messages with PTM."))
    await run_digests(deps, hour=0, only={user_id})


def _render(reply: Reply) -> dict[str, Any]:
    if reply.kind == "list":
        return build_deal_list(reply.lines)
    return build_notice(reply.text)
