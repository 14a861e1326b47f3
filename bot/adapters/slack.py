"""The Slack Web API as PTM uses it: cards, ephemerals, modals, user look-ups; with retries."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from enum import Enum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.sealing import Seal

log = logging.getLogger(__name__)

# Errors after which a card message can never be updated again: stop tracking it.
GONE_ERRORS = frozenset(
    {"message_not_found", "channel_not_found", "is_archived", "cant_update_message"}
)
USER_CACHE_SECONDS = 3600.0
# A modal opened for another company's deal: `h<tenant>.` before its sealed metadata.
ROUTING_MARK = re.compile(r"^h\d{1,12}\.")


# The bot scopes PTM asks for at install (manifest.yml lists the same, with why).
BOT_SCOPES = (
    "chat:write",
    "commands",
    "users:read",
    "channels:read",
    "groups:read",
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:write",
    "files:write",
)


def make_client(
    token: str | None, base_url: str, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """A Web API client that retries dropped connections, 429s (per Retry-After) and 5xx.
    With `session` (the process's own, see bot.app.factory) its calls reuse connections:
    against real Slack, no TLS handshake per `chat.update`; without, each call opens one."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class Pacer:
    """Spaces calls of one kind so a batch (a morning of digests) stays under Slack's rate
    tier instead of bursting into 429s; waits are taken in turn, first come first served."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


# Digest DMs: chat.postMessage allows about one message per second per channel plus a
# workspace-wide cap; each DM is its own channel, so a steady 5 per second is well inside.
DM_RATE = 5.0
# How long a channel's member teams are kept (a channel is rarely re-shared).
CHANNEL_TEAMS_SECONDS = 300.0
# views.publish is Tier 4 (100+ per minute).
HOME_RATE = 1.5


class UpdateResult(Enum):
    OK = "ok"
    GONE = "gone"
    FAILED = "failed"


class SlackGateway:
    """Thin async helpers over the Web API with text fallbacks and error mapping."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        dm_rate: float = DM_RATE,
        home_rate: float = HOME_RATE,
        seal: Seal | None = None,
    ) -> None:
        self.client = client
        # Keyed by the bot token unless told otherwise: a secret only this server holds.
        self.seal = seal or Seal(client.token or "")
        self.dm_pacer = Pacer(dm_rate)
        self.home_pacer = Pacer(home_rate)
        self._users: dict[str, tuple[float, dict[str, Any]]] = {}
        self._installation: tuple[str | None, str | None] | None = None
        self._channel_teams: dict[str, tuple[float, list[str]]] = {}
        # The installation's bot user, when known (many workspaces): whom a mention names.
        self.bot_user: str | None = None

    async def post(
        self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None
    ) -> str:
        response = await self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, **message
        )
        return str(response["ts"])

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> UpdateResult:
        try:
            await self.client.chat_update(channel=channel, ts=ts, **message)
        except SlackApiError as err:
            code = err.response.get("error", "")
            if code in GONE_ERRORS:
                log.info("card copy %s/%s is gone (%s)", channel, ts, code)
                return UpdateResult.GONE
            log.warning("chat.update %s/%s failed: %s", channel, ts, code)
            return UpdateResult.FAILED
        return UpdateResult.OK

    async def ephemeral(self, channel: str, user: str, message: dict[str, Any]) -> None:
        await self.client.chat_postEphemeral(channel=channel, user=user, **message)

    async def try_ephemeral(
        self, channel: str, user: str, message: dict[str, Any], *, thread_ts: str | None = None
    ) -> bool:
        """An ephemeral that may not reach everyone (e.g. users of another org); False if not."""
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, **message
            )
        except SlackApiError as err:
            log.info("ephemeral to %s in %s failed: %s", user, channel, err.response.get("error"))
            return False
        return True

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self.home_pacer.wait()
        await self.client.views_publish(user_id=user_id, view=view)

    async def direct_message(self, user_id: str, message: dict[str, Any]) -> str:
        """A DM from the app (a user id as channel opens the app's DM), paced for batches."""
        await self.dm_pacer.wait()
        return await self.post(user_id, message)

    async def upload_to_dm(
        self, user_id: str, *, filename: str, data: bytes, title: str, comment: str, alt: str
    ) -> str:
        """Upload a file into the app's DM with the user (files.getUploadURLExternal, the upload,
        files.completeUploadExternal); returns the DM channel id."""
        opened = await self.client.conversations_open(users=user_id)
        channel = str(opened["channel"]["id"])
        await self.client.files_upload_v2(
            channel=channel,
            file=data,
            filename=filename,
            title=title,
            initial_comment=comment,
            alt_txt=alt,
        )
        return channel

    async def open_modal(self, trigger_id: str, view: dict[str, Any], *, for_user: str) -> None:
        """Open a modal whose metadata is sealed to `for_user` (see bot.sealing)."""
        sealed = self.seal.seal(for_user, view.get("private_metadata", ""))
        view = {**view, "private_metadata": sealed}
        await self.client.views_open(trigger_id=trigger_id, view=view)

    def modal_metadata(self, view: dict[str, Any], user_id: str) -> str | None:
        """A submitted modal's metadata if it was opened for `user_id`, else None. A routing
        mark (RoutedGateway) before the seal is dropped: the seal alone vouches for it."""
        raw = ROUTING_MARK.sub("", str(view.get("private_metadata", "")), count=1)
        return self.seal.unseal(user_id, raw)

    async def channel_shared(self, channel_id: str) -> bool | None:
        """Whether a channel is shared with another org (pending invitations count); None when
        Slack will not say, which callers must treat as shared."""
        try:
            response = await self.client.conversations_info(channel=channel_id)
        except SlackApiError as err:
            log.info("conversations.info %s failed: %s", channel_id, err.response.get("error"))
            return None
        channel = response.get("channel")
        if not isinstance(channel, dict) or "is_ext_shared" not in channel:
            return None  # an answer that does not say counts as "shared"
        teams = channel.get("shared_team_ids") or channel.get("connected_team_ids")
        if teams:  # the same answer says who is in it (the disclosure ledger asks)
            own = set(await self.installation())
            found = [str(t) for t in teams if t not in own]
            self._channel_teams[channel_id] = (time.monotonic(), found)
        return bool(channel.get("is_ext_shared") or channel.get("is_pending_ext_shared"))

    def know_installation(self, team_id: str | None, enterprise_id: str | None) -> None:
        """The installation's team, known already (many workspaces: from the install)."""
        self._installation = (team_id, enterprise_id)

    def known_teams(self, channel_id: str) -> list[str] | None:
        """`other_teams` as this process last heard it, if still fresh; None (no I/O) if not."""
        kept = self._channel_teams.get(channel_id)
        if kept is None or time.monotonic() - kept[0] >= CHANNEL_TEAMS_SECONDS:
            return None
        return list(kept[1])

    async def other_teams(self, channel_id: str) -> list[str]:
        """The other companies' teams in a Slack Connect channel (conversations.info's
        `shared_team_ids`, less this installation's own); empty when not shared or unknown.
        Kept a few minutes per channel: every shared card update asks."""
        kept = self._channel_teams.get(channel_id)
        if kept is not None and time.monotonic() - kept[0] < CHANNEL_TEAMS_SECONDS:
            return list(kept[1])
        try:
            response = await self.client.conversations_info(channel=channel_id)
        except SlackApiError as err:
            log.info("conversations.info %s failed: %s", channel_id, err.response.get("error"))
            return []
        channel = response.get("channel") or {}
        teams = channel.get("shared_team_ids") or channel.get("connected_team_ids") or []
        own = set(await self.installation())
        found = [str(t) for t in teams if t not in own]
        self._channel_teams[channel_id] = (time.monotonic(), found)
        return found

    async def installation(self) -> tuple[str | None, str | None]:
        """The team and Grid enterprise this token belongs to (auth.test, asked once)."""
        if self._installation is None:
            response = await self.client.auth_test()
            self._installation = (response.get("team_id"), response.get("enterprise_id"))
        return self._installation

    async def team_of(self, user_id: str) -> str | None:
        """The Slack team a user belongs to (cached); None when Slack will not say."""
        return (await self._user(user_id)).get("team_id")

    async def tz_of(self, user_id: str) -> str | None:
        """The user's IANA time zone, e.g. Europe/Paris (cached); None when unknown."""
        return (await self._user(user_id)).get("tz")

    async def is_bot(self, user_id: str) -> bool:
        """Whether a user is an app's bot (Slackbot included); False when Slack will not say."""
        user = await self._user(user_id)
        return bool(user.get("is_bot")) or user_id == "USLACKBOT"

    async def _user(self, user_id: str) -> dict[str, Any]:
        cached = self._users.get(user_id)
        # A failed look-up is remembered only briefly, so it is retried soon.
        if cached and time.monotonic() - cached[0] < (USER_CACHE_SECONDS if cached[1] else 60):
            return cached[1]
        try:
            response = await self.client.users_info(user=user_id)
            user = dict(response["user"])
        except SlackApiError as err:
            log.info("users.info %s failed: %s", user_id, err.response.get("error"))
            user = {}
        self._users[user_id] = (time.monotonic(), user)
        return user


class RoutedGateway(SlackGateway):
    """A request about one company's deal that reached PTM through the other company's
    installation (a Slack Connect channel both installed). Messages in channels — cards,
    thread replies, ephemerals — go through the deal's company (only the installation that
    posted a card may update it); a modal opens through the installation that received the
    trigger, marked with the deal's company so that its submission comes back to it."""

    def __init__(self, home: SlackGateway, answering: SlackGateway, home_tenant: int) -> None:
        # The home gateway's client, seal, pacers and caches: the same objects, shared.
        self.__dict__.update(home.__dict__)
        self._home = home
        self._answering = answering
        self._mark = f"h{home_tenant}."

    async def installation(self) -> tuple[str | None, str | None]:
        return await self._home.installation()

    async def open_modal(self, trigger_id: str, view: dict[str, Any], *, for_user: str) -> None:
        sealed = self.seal.seal(for_user, view.get("private_metadata", ""))
        view = {**view, "private_metadata": self._mark + sealed}
        await self._answering.client.views_open(trigger_id=trigger_id, view=view)

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self._answering.publish_home(user_id, view)
