"""Edge parsers: Slack payloads -> who is acting, where, for which installation."""

from __future__ import annotations

from typing import Any

from bot.app.deps import HOME_KEY
from bot.domain.model import Actor, is_our_org
from bot.services import Caller


def installation(context: Any) -> tuple[str | None, str | None]:
    """The team (and Grid enterprise) of the company whose deal the request acts on: the
    installation Bolt authorized (auth.test for a single workspace), or the deal's own company
    when the request was routed to it; never from the payload: the `team` a payload names can
    be the other company's in a Slack Connect channel. (None, None) when unknown: nobody is
    ours."""
    routed = context.get(HOME_KEY)
    if routed is not None:  # a request about another company's deal (bot.app.routing)
        return routed[0], routed[1]
    result = context.get("authorize_result")
    if result is None:
        return None, None
    return result.team_id, result.enterprise_id


def actor(user_id: str, team: str | None, context: Any) -> Actor:
    """An actor whose org is ours only if their team (or Grid enterprise) is the installation's."""
    home_team, home_enterprise = installation(context)
    internal = is_our_org(team, home_team=home_team, home_enterprise=home_enterprise)
    return Actor(user_id=user_id, team_id=team, internal=internal)


def _caller(actor_: Actor, channel_id: str | None, context: Any) -> Caller:
    home_team, home_enterprise = installation(context)
    return Caller(
        actor=actor_, channel_id=channel_id, home_team=home_team, home_enterprise=home_enterprise
    )


def caller_from_command(command: dict[str, Any], context: Any) -> Caller:
    # A slash command only reaches us from a workspace that installed the app: the caller's
    # team is the command's team.
    return _caller(
        actor(command["user_id"], command.get("team_id"), context),
        command.get("channel_id"),
        context,
    )


def caller_from_interaction(
    body: dict[str, Any], context: Any, channel_id: str | None = None
) -> Caller:
    """block_actions / view_submission: `user.team_id` is the clicker's own org."""
    user = body.get("user", {})
    # `team.id` is the workspace the app is installed in; only `user.team_id` says the clicker's
    # own org, so without it the clicker is treated as external.
    team = user.get("team_id")
    channel = (
        channel_id
        or (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
    )
    return _caller(actor(user["id"], team, context), channel, context)


def caller_from_event(event: dict[str, Any], context: Any) -> Caller:
    """A message event: the author's org is `user_team` (or the inner `team`) in shared
    channels; the envelope's team may be the installation's, so it is not used."""
    team = event.get("user_team") or event.get("team") or event.get("source_team")
    return _caller(actor(str(event["user"]), team, context), event.get("channel"), context)


def card_block_id(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("block_id", ""))


def action_value(body: dict[str, Any]) -> str:
    action = body["actions"][0]
    if "selected_option" in action:
        return str((action["selected_option"] or {}).get("value", ""))
    return str(action.get("value", ""))
