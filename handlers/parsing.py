"""Edge parsers: Slack payloads -> who is acting, where, for which installation."""

from __future__ import annotations

from typing import Any

from bot.domain import Actor
from bot.services import Caller


def caller_from_command(command: dict[str, Any], context: Any) -> Caller:
    # A slash command only reaches us from a workspace that installed the app: the caller's
    # team is the command's team.
    return Caller(
        actor=Actor(user_id=command["user_id"], team_id=command.get("team_id")),
        channel_id=command.get("channel_id"),
        home_team=context.get("team_id"),
    )


def caller_from_interaction(
    body: dict[str, Any], context: Any, channel_id: str | None = None
) -> Caller:
    """block_actions / view_submission: `user.team_id` is the clicker's own org."""
    user = body.get("user", {})
    team = user.get("team_id") or body.get("team", {}).get("id")
    channel = (
        channel_id
        or (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
    )
    return Caller(
        actor=Actor(user_id=user["id"], team_id=team),
        channel_id=channel,
        home_team=context.get("team_id"),
    )


def card_block_id(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("block_id", ""))


def action_value(body: dict[str, Any]) -> str:
    action = body["actions"][0]
    if "selected_option" in action:
        return str((action["selected_option"] or {}).get("value", ""))
    return str(action.get("value", ""))
