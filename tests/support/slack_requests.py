"""Build and send Slack-shaped, signed HTTP requests to a running PTM server (the shapes come
from bot.demo.wire, which the demo's Slack sends too)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.demo import wire
from bot.demo.blockkit import validate_blocks
from bot.demo.wire import command_form, find_element
from tests.fakes.slack_api import BOT_USER, OUR_TEAM

SECRET = "test-signing-secret-0123456789"

__all__ = ["SECRET", "Inbound", "command_form", "find_element"]


class Inbound:
    """What Slack would POST to /slack/events: commands, interactions and events."""

    def __init__(self, url: str, *, response_url: str, secret: str = SECRET) -> None:
        self.url = url
        self.response_url = response_url
        self.secret = secret
        self._trigger = 0
        self.trigger_users: dict[str, str] = {}  # trigger_id -> the user it was issued to

    async def send(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = {
            **wire.signed_headers(self.secret, body, content_type, timestamp=timestamp),
            **(headers or {}),
        }
        if signature is not None:
            all_headers["x-slack-signature"] = signature
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url, data=body.encode(), headers=all_headers) as resp:
                text = await resp.text()
        try:
            body = json.loads(text) if text else None
        except json.JSONDecodeError:
            return resp.status, text
        # What the bot answers in the HTTP response must be valid Block Kit too.
        if isinstance(body, dict):
            problems = validate_blocks(body.get("blocks"))
            if "blocks" in body and not body.get("text"):
                problems.append("answer without a text fallback")
            assert not problems, f"invalid Block Kit in the answer: {problems}"
        return resp.status, body

    def _trigger_id(self, user: str = "") -> str:
        self._trigger += 1
        trigger = f"trigger-{self._trigger}"
        self.trigger_users[trigger] = user
        return trigger

    async def command(
        self,
        text: str,
        *,
        user: str = "USELLER",
        channel: str = "CROOM",
        team: str = OUR_TEAM,
        org_install: str | None = None,
        **send_kw: Any,
    ) -> tuple[int, Any]:
        form = command_form(
            text,
            user=user,
            channel=channel,
            team=team,
            response_url=self.response_url,
            trigger_id=self._trigger_id(user),
            org_install=org_install,
        )
        return await self.send(wire.encode_form(form), wire.FORM, **send_kw)

    async def interaction(self, payload: dict[str, Any], **send_kw: Any) -> tuple[int, Any]:
        return await self.send(wire.encode_interaction(payload), wire.FORM, **send_kw)

    async def click(
        self,
        message: dict[str, Any],
        action_id: str,
        *,
        channel: str,
        ts: str,
        user: str = "USELLER",
        user_team: str = OUR_TEAM,
        value: str | None = None,
        option: str | None = None,
        team: str = OUR_TEAM,
    ) -> tuple[int, Any]:
        """Click a control of a posted message, taking its block_id and element from the blocks.
        `team`: the workspace whose installation Slack sends the click to."""
        block, element = find_element(message["blocks"], action_id)
        action = wire.chosen_action(block, element, value=value, option=option)
        payload = wire.message_action_payload(
            message,
            action,
            channel=channel,
            ts=ts,
            user=user,
            user_team=user_team,
            team=team,
            trigger_id=self._trigger_id(user),
            response_url=self.response_url,
        )
        return await self.interaction(payload)

    async def click_home(
        self,
        view: dict[str, Any],
        action_id: str,
        *,
        user: str,
        team: str = OUR_TEAM,
        value: str | None = None,
        option: str | None = None,
        selected_user: str | None = None,
    ) -> tuple[int, Any]:
        """Click a control of a published App Home tab (no channel, no response_url)."""
        block, element = find_element(view["blocks"], action_id)
        action = wire.chosen_action(
            block, element, value=value, option=option, selected_user=selected_user
        )
        payload = wire.view_action_payload(
            view, action, view_id="VHOME", user=user, team=team, trigger_id=self._trigger_id(user)
        )
        return await self.interaction(payload)

    async def submit(
        self,
        view: dict[str, Any],
        values: dict[str, Any],
        *,
        user: str = "USELLER",
        user_team: str = OUR_TEAM,
        installed_team: str = OUR_TEAM,
    ) -> tuple[int, Any]:
        """Submit a modal the bot opened, with `values` as block_id -> typed value;
        `installed_team`: the workspace of the installation that opened it."""
        payload = wire.view_submission_payload(
            view,
            values,
            view_id="V123",
            user=user,
            user_team=user_team,
            installed_team=installed_team,
            trigger_id=self._trigger_id(user),
        )
        return await self.interaction(payload)

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str,
        retry_num: int | None = None,
        team: str = OUR_TEAM,
        ext_shared: bool = False,
    ) -> tuple[int, Any]:
        """`team`: the installation Slack picked; `ext_shared`: the channel is a Slack Connect
        channel (the envelope says so)."""
        envelope = wire.event_envelope(
            event, event_id=event_id, team=team, bot_user=BOT_USER, ext_shared=ext_shared
        )
        return await self.send(
            json.dumps(envelope), wire.JSON, headers=wire.retry_headers(retry_num)
        )
