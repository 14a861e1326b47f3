"""Events API: one `message` listener; a trio member's message in a deal room is activity."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import services
from bot.deps import deps_of

# The event types PTM subscribes to; manifest.yml must list exactly these (tested).
EVENT_TYPES = ("message", "channel_shared", "channel_unshared")
IGNORED_SUBTYPES = frozenset({"bot_message", "message_changed", "message_deleted", "channel_join"})


def register(app: AsyncApp) -> None:
    app.event("message")(handle_message_event)
    app.event("channel_shared")(handle_channel_sharing_event)
    app.event("channel_unshared")(handle_channel_sharing_event)


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


async def handle_message_event(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
    """Bolt acks events itself; re-deliveries carry the same event_id and are skipped."""
    if event.get("bot_id") or event.get("subtype") in IGNORED_SUBTYPES or not event.get("user"):
        return
    await services.note_message(
        deps_of(context).ctx,
        event_id=str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"),
        channel_id=str(event.get("channel", "")),
        user_id=str(event["user"]),
    )
