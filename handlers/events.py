"""Events API: messages (bot mentions and deal-room activity) and channel sharing changes."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from blocks.replies import build_notice, build_reply
from bot import services
from bot.app.deps import BOTS_KEY, Deps, deps_of
from bot.domain import grammar
from bot.domain.model import DomainError, MessageAlreadyApplied, NotAllowed
from bot.services.messages import message_key
from handlers.answering import ACK_BUDGET
from handlers.parsing import caller_from_event, installation
from handlers.publish import publish

# The event types PTM subscribes to; manifest.yml must list exactly these (tested).
log = logging.getLogger(__name__)

EVENT_TYPES = ("message", "app_mention", "channel_shared", "channel_unshared", "app_home_opened")
# Handled by Bolt's token revocation listeners with many workspaces; logged with one.
UNINSTALL_EVENTS = ("app_uninstalled", "tokens_revoked")
IGNORED_SUBTYPES = frozenset(
    {"bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave"}
)


def register(app: AsyncApp) -> None:
    app.use(keep_mentions)
    app.event("message")(handle_message_event)
    app.event("app_mention")(handle_mention_event)
    app.event("channel_shared")(handle_channel_sharing_event)
    app.event("channel_unshared")(handle_channel_sharing_event)
    app.event("app_home_opened")(handle_app_home_opened)
    for uninstall in UNINSTALL_EVENTS:
        app.event(uninstall)(handle_uninstalled)


async def handle_uninstalled(event: dict[str, Any]) -> None:
    """One workspace (many have Bolt delete the tokens first): SLACK_BOT_TOKEN is dead now."""
    log.warning(
        "Slack says %s: SLACK_BOT_TOKEN no longer works; reinstall the app and set the new token",
        event.get("type"),
    )


async def handle_app_home_opened(event: dict[str, Any], context: Any) -> None:
    """Draw the Home tab live for whoever opens it (our org: partner orgs get no App Home)."""
    if event.get("tab", "home") != "home":
        return
    await deps_of(context).homes.publish_now(str(event.get("user", "")))


def _from_a_person(event: dict[str, Any]) -> bool:
    """Bolt drops our own events; this drops other bots and edits, deletions, joins."""
    return (
        bool(event.get("user"))
        and not event.get("bot_id")
        and (event.get("subtype") not in IGNORED_SUBTYPES)
    )


def _posted_at(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(event.get("ts") or 0), UTC)


async def handle_message_event(event: dict[str, Any], context: Any) -> None:
    """Bolt acks events itself. A message mentioning the bot is also delivered as app_mention:
    either copy may arrive first, and the message claim makes sure only one acts."""
    if not _from_a_person(event):
        return
    deps = deps_of(context)
    if mentioned_bot(event, context):
        await _answer_mention(deps, event, context)
    await _note_activity(deps, event)


async def handle_mention_event(event: dict[str, Any], context: Any) -> None:
    if _from_a_person(event):
        await _answer_mention(deps_of(context), event, context)


async def _note_activity(deps: Deps, event: dict[str, Any]) -> None:
    channel, user, at = str(event.get("channel", "")), str(event["user"]), _posted_at(event)
    if deps.activity.should_write(channel, user, at):
        await services.note_activity(deps.ctx, channel_id=channel, user_id=user, posted_at=at)


def mentioned_bot(event: dict[str, Any], context: Any) -> str | None:
    """Which of our bot users the message mentions, if any: the receiving installation's, or,
    in a channel both companies installed PTM in, the other company's (bot.app.routing)."""
    text = str(event.get("text", ""))
    for bot_user in context.get(BOTS_KEY) or (context.get("bot_user_id"),):
        if bot_user and f"<@{bot_user}" in text:
            return str(bot_user)
    return None


def _mention_of(event: dict[str, Any], context: Any) -> tuple[str, str]:
    """The message's key and what it takes to apply it later in another process: the event
    and the installation it came through."""
    key = message_key(str(event.get("channel", "")), str(event.get("ts")))
    team, enterprise = installation(context)
    payload = {
        "event": event,
        "team": team,
        "enterprise": enterprise,
        "bot_user_id": mentioned_bot(event, context) or context.get("bot_user_id"),
    }
    return key, json.dumps(payload, separators=(",", ":"))


async def keep_mentions(body: dict[str, Any], context: Any, next: Any) -> Any:  # noqa: A002
    """Global middleware: a message that mentions the bot is stored before Slack gets its
    ack (Slack will not re-deliver an acked event), so a crash cannot lose it. Should the
    database be too busy to store it within the ack budget, the ack goes out anyway and the
    storing finishes after it (the listener stores what it takes, too)."""
    event = body.get("event") if body.get("type") == "event_callback" else None
    if (
        isinstance(event, dict)
        and event.get("type") in ("app_mention", "message")
        and _from_a_person(event)
        and mentioned_bot(event, context)
    ):
        key, payload = _mention_of(event, context)
        keeping = asyncio.ensure_future(
            services.receive_message(deps_of(context).ctx, key, payload)
        )
        _STILL_KEEPING.add(keeping)  # a task nothing refers to may be collected mid-flight
        keeping.add_done_callback(_STILL_KEEPING.discard)
        await asyncio.wait({keeping}, timeout=ACK_BUDGET)
    return await next()


# Mentions still being stored after their ack went out (see keep_mentions); safe to lose.
_STILL_KEEPING: set[asyncio.Task[None]] = set()


async def replay_stalled_mentions(deps: Deps) -> int:
    """Apply and answer the mentions a process received but died before applying."""
    stalled = await services.stalled_messages(deps.ctx)
    for _key, payload in stalled:
        kept = json.loads(payload)
        context = {
            "authorize_result": AuthorizeResult(
                enterprise_id=kept.get("enterprise"),
                team_id=kept.get("team"),
                bot_user_id=kept.get("bot_user_id"),
            ),
            "bot_user_id": kept.get("bot_user_id"),
        }
        await _answer_mention(deps, kept["event"], context)
    return len(stalled)


async def _answer_mention(deps: Deps, event: dict[str, Any], context: Any) -> None:
    """Run what the mention asks and answer in the message's thread, once per message: the
    one process that takes the message applies it (the change and the mark that it was
    applied commit together) and answers; a crash before that leaves it for another."""
    key, payload = _mention_of(event, context)
    if not await services.take_message(deps.ctx, key, payload):
        return
    try:
        await _apply_mention(deps, event, context, key)
    except MessageAlreadyApplied:
        return  # another process took it over, applied it and answered
    finally:
        await services.finish_message(deps.ctx, key)


async def _apply_mention(deps: Deps, event: dict[str, Any], context: Any, key: str) -> None:
    channel = str(event.get("channel", ""))
    caller = caller_from_event(event, context)
    thread = str(event.get("thread_ts") or event.get("ts"))
    try:
        parsed = grammar.parse_mention(
            event.get("text", ""),
            bot_user_id=mentioned_bot(event, context) or context.get("bot_user_id"),
            today=deps.ctx.today(),
        )
        reply = await services.run_mention(deps.ctx, caller, parsed, message_key=key)
    except NotAllowed as err:
        # Only the person who asked needs to hear "no"; in the thread if Slack cannot whisper.
        if not await deps.slack.try_ephemeral(
            channel, caller.actor.user_id, build_notice(err.message), thread_ts=thread
        ):
            await deps.slack.post(channel, build_notice(err.message), thread_ts=thread)
        return
    except DomainError as err:
        await deps.slack.post(channel, build_notice(err.message), thread_ts=thread)
        if err.deal_id is not None:
            await deps.cards.sync(err.deal_id)
        return
    try:
        if caller.actor.internal and await services.withholds_in(deps.ctx, channel):
            # The thread is read by a partner company our policy shows less: say it to the
            # one who asked (the card shows them what their partner may see).
            user, answer = caller.actor.user_id, build_reply(reply)
            if not await deps.slack.try_ephemeral(channel, user, answer, thread_ts=thread):
                await deps.slack.direct_message(user, answer)
        else:
            await deps.slack.post(channel, build_reply(reply), thread_ts=thread)
    finally:
        # The change is saved: every copy shows it now, even if the thread reply failed.
        await publish(deps, reply, caller)


async def handle_channel_sharing_event(event: dict[str, Any], context: Any) -> None:
    """A channel gained or lost an external org: re-check it and re-render its card copies,
    so internal fields leave a copy the moment its channel becomes shared."""
    deps = deps_of(context)
    channel_id = str(event.get("channel", ""))
    # Sharing with a new org is certain; after an unshare other orgs may remain, so ask Slack.
    known = True if event.get("type") == "channel_shared" else None
    await services.refresh_sharing(deps.ctx, channel_id, known)
    for deal_id in await services.deals_shown_in(deps.ctx, channel_id):
        await deps.cards.sync(deal_id)
