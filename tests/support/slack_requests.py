"""Build and send Slack-shaped, signed HTTP requests to a running PTM server."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import OUR_TEAM, validate_blocks

SECRET = "test-signing-secret-0123456789"


def command_form(
    text: str,
    *,
    user: str,
    channel: str,
    team: str,
    response_url: str,
    trigger_id: str,
    org_install: str | None = None,
) -> dict[str, str]:
    """The form fields Slack POSTs for `/ptm <text>` (`org_install`: the Grid org of an
    org-wide install)."""
    if org_install is not None:
        return {
            **command_form(
                text,
                user=user,
                channel=channel,
                team=team,
                response_url=response_url,
                trigger_id=trigger_id,
            ),
            "enterprise_id": org_install,
            "is_enterprise_install": "true",
        }
    return {
        "token": "legacy",
        "team_id": team,
        "team_domain": "ours",
        "channel_id": channel,
        "channel_name": "deal-room",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/ptm",
        "text": text,
        "api_app_id": "APTM",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


class Inbound:
    """What Slack would POST to /slack/events: commands, interactions and events."""

    def __init__(self, url: str, *, response_url: str, secret: str = SECRET) -> None:
        self.url = url
        self.response_url = response_url
        self.verifier = SignatureVerifier(secret)
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
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or self.verifier.generate_signature(timestamp=ts, body=body)
        all_headers = {
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": sig,
            **(headers or {}),
        }
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
        return await self.send(urlencode(form), "application/x-www-form-urlencoded", **send_kw)

    async def interaction(self, payload: dict[str, Any], **send_kw: Any) -> tuple[int, Any]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.send(body, "application/x-www-form-urlencoded", **send_kw)

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
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block.get("block_id", "slack-assigned"),
            "type": element["type"],
            "action_ts": str(time.time()),
        }
        if element["type"] in ("static_select", "overflow"):
            chosen = next(o for o in element["options"] if o["value"] == option)
            action["selected_option"] = chosen
        else:
            action["value"] = value if value is not None else element.get("value", "")
        payload = {
            "type": "block_actions",
            "team": {"id": team, "domain": "ours"},
            "user": {"id": user, "username": user.lower(), "team_id": user_team},
            "api_app_id": "APTM",
            "token": "legacy",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "trigger_id": self._trigger_id(user),
            "channel": {"id": channel, "name": "deal-room"},
            "message": {
                "ts": ts,
                "blocks": message["blocks"],
                "text": message.get("text"),
                **({"user": message["user"]} if message.get("user") else {}),
            },
            "response_url": self.response_url,
            "actions": [action],
        }
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
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block.get("block_id", "slack-assigned"),
            "type": element["type"],
            "action_ts": str(time.time()),
        }
        if element["type"] == "static_select":
            action["selected_option"] = next(o for o in element["options"] if o["value"] == option)
        elif element["type"] == "users_select":
            action["selected_user"] = selected_user
        else:
            action["value"] = value if value is not None else element.get("value", "")
        payload = {
            "type": "block_actions",
            "team": {"id": team, "domain": "ours"},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "APTM",
            "token": "legacy",
            "container": {"type": "view", "view_id": "VHOME"},
            "trigger_id": self._trigger_id(user),
            "view": {**view, "id": "VHOME", "team_id": team},
            "actions": [action],
        }
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
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            element = block["element"]
            raw = values.get(block["block_id"])
            state[block["block_id"]] = {element["action_id"]: _element_state(element, raw)}
        payload = {
            "type": "view_submission",
            "team": {"id": user_team, "domain": "x"},
            "user": {"id": user, "username": user.lower(), "team_id": user_team},
            "api_app_id": "APTM",
            "token": "legacy",
            "trigger_id": self._trigger_id(user),
            "view": {
                **view,
                "id": "V123",
                "team_id": user_team,
                "app_installed_team_id": installed_team,
                "state": {"values": state},
                "hash": "h",
            },
            "response_urls": [],
        }
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
        envelope = {
            "token": "legacy",
            "team_id": team,
            "api_app_id": "APTM",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": team,
                    "user_id": "UPTMBOT",
                    "is_bot": True,
                    "enterprise_id": None,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": ext_shared,
        }
        headers = {}
        if retry_num is not None:
            headers = {"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"}
        return await self.send(json.dumps(envelope), "application/json", headers=headers)


def find_element(
    blocks: list[dict[str, Any]], action_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    for block in blocks:
        elements = block.get("elements", []) if block["type"] == "actions" else []
        for element in [*elements, block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return block, element
    raise AssertionError(f"no control {action_id} on this message")


def _element_state(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    kind = element["type"]
    if kind == "datepicker":
        return {"type": kind, "selected_date": raw}
    if kind == "static_select":
        option = next((o for o in element["options"] if o["value"] == raw), None)
        return {"type": kind, "selected_option": option}
    if kind in ("checkboxes", "multi_static_select"):
        chosen = [o for o in element["options"] if o["value"] in (raw or ())]
        return {"type": kind, "selected_options": chosen}
    if kind == "users_select":
        return {"type": kind, "selected_user": raw}
    return {"type": kind, "value": raw}
