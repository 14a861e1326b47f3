"""Events API: one `message` listener; a trio member's message in a deal room is activity."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import services
from bot.deps import deps_of

# The event types PTM subscribes to; manifest.yml must list exactly these (tested).
EVENT_TYPES = ("message",)
IGNORED_SUBTYPES = frozenset({"bot_message", "message_changed", "message_deleted", "channel_join"})


def register(app: AsyncApp) -> None:
    app.event("message")(handle_message_event)


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
