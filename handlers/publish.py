"""After a use case: answer the caller, post a card copy if asked, and re-sync every copy."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from blocks.card import build_deal_card
from bot import services
from bot.app.deps import Deps
from bot.services import Caller
from bot.views.models import Reply

log = logging.getLogger(__name__)

INVITE_ME = "Invite me with `/invite @PTM`, then run `/ptm card`."
CANNOT_POST = {
    "not_in_channel": f"I am not in this channel yet. {INVITE_ME}",
    "channel_not_found": f"I cannot see this channel. {INVITE_ME}",
    "is_archived": "This channel is archived, so I cannot post the card here.",
}


async def tell_privately(
    deps: Deps,
    caller: Caller,
    message: dict[str, Any],
    *,
    respond: Any = None,
    thread_ts: str | None = None,
) -> None:
    """Answer one person: an ephemeral where they are; if Slack will not deliver it (a partner
    rep of another org, say), through the request's response_url; failing that, a threaded
    reply that mentions them; a DM when there is no channel at all. The answer always reaches
    them, and its failure never turns into an error about the change it reports on."""
    user = caller.actor.user_id
    channel = caller.channel_id
    if channel and await deps.slack.try_ephemeral(channel, user, message, thread_ts=thread_ts):
        return
    if respond is not None:
        try:
            await respond(response_type="ephemeral", replace_original=False, **message)
            return
        except Exception as err:  # noqa: BLE001  (fall through to a visible reply)
            log.info("response_url answer to %s failed: %s", user, err)
    try:
        if channel:
            addressed = {**message, "text": f"<@{user}> {message.get('text', '')}"}
            await deps.slack.post(channel, addressed, thread_ts=thread_ts)
        else:
            await deps.slack.direct_message(user, message)
    except SlackApiError as err:
        log.warning("could not answer %s at all: %s", user, err.response.get("error"))


async def publish(deps: Deps, reply: Reply, caller: Caller) -> str | None:
    """After the ack: post the card (when asked), learn new trio members' orgs, and bring every
    copy up to date. Returns a problem to tell the caller, if any."""
    problem, stale = None, False
    channel_id, actor_id = caller.channel_id, caller.actor.user_id
    if reply.post_card and reply.deal_id is not None and channel_id:
        problem, stale = await _post_copy(deps, reply, channel_id=channel_id, actor_id=actor_id)
    if reply.learn_teams and reply.deal_id is not None:
        # users.info may be slow or rate limited: that is why it runs here, after the ack.
        stale = await services.learn_trio_teams(deps.ctx, caller, reply.deal_id) or stale
    if reply.deal_id is not None and (reply.changed or stale):
        # The pass also refreshes the App Home of the deal's people (see CardSyncer).
        await deps.cards.sync(reply.deal_id)
    return problem


async def _post_copy(
    deps: Deps, reply: Reply, *, channel_id: str, actor_id: str
) -> tuple[str | None, bool]:
    """Post one more copy, rendered for that channel's audience; returns (problem to tell,
    whether the deal moved on while it was being posted)."""
    assert reply.deal_id is not None
    card, shared = await services.card_for_channel(deps.ctx, reply.deal_id, channel_id)
    try:
        ts = await deps.slack.post(channel_id, build_deal_card(card))
    except SlackApiError as err:
        code = err.response.get("error", "")
        log.info("could not post card of deal %s in %s: %s", reply.deal_id, channel_id, code)
        return CANNOT_POST.get(
            code, f"I could not post the card here (Slack said `{code}`)."
        ), False
    latest = await services.record_copy(
        deps.ctx, card, channel_id, ts, shared=shared, actor=actor_id
    )
    return None, latest > card.version
