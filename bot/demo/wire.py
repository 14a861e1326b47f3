"""What Slack sends to an app, shaped and signed as Slack does: slash commands, block actions
(from a message or a view), view submissions and Events API envelopes.

The demo's Slack sends these for the people on its page; the tests send the same builders'
output, so both speak to the bot exactly as one source says Slack does.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

APP_ID = "APTM"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signed_headers(secret: str, body: str, content_type: str, *, timestamp: int | None = None):
    """The headers Slack signs a request with (v0 HMAC-SHA256 of `v0:timestamp:body`)."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }


def command_form(
    text: str,
    *,
    user: str,
    channel: str,
    team: str,
    response_url: str,
    trigger_id: str,
    org_install: str | None = None,
    channel_name: str = "deal-room",
    team_domain: str = "ours",
    user_name: str | None = None,
) -> dict[str, str]:
    """The form fields Slack POSTs for `/ptm <text>` (`org_install`: the Grid org of an
    org-wide install)."""
    form = {
        "token": "legacy",
        "team_id": team,
        "team_domain": team_domain,
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user_name or user.lower(),
        "command": "/ptm",
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    if org_install is not None:
        form.update({"enterprise_id": org_install, "is_enterprise_install": "true"})
    return form


def encode_form(form: dict[str, str]) -> str:
    return urlencode(form)


def encode_interaction(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The block and interactive element `action_id` names (in that block, when given)."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        elements = block.get("elements", []) if block.get("type") == "actions" else []
        for element in [*elements, block.get("accessory") or {}, block.get("element") or {}]:
            if element.get("action_id") == action_id:
                return block, element
    raise LookupError(f"no control {action_id} on this surface")


def chosen_action(
    block: dict[str, Any],
    element: dict[str, Any],
    *,
    value: str | None = None,
    option: str | None = None,
    options: list[str] | None = None,
    selected_user: str | None = None,
    selected_date: str | None = None,
) -> dict[str, Any]:
    """One entry of `actions`: what was clicked or picked, as Slack reports each element."""
    kind = element["type"]
    action: dict[str, Any] = {
        "action_id": element["action_id"],
        "block_id": block.get("block_id", "slack-assigned"),
        "type": kind,
        "action_ts": f"{time.time():.6f}",
    }
    if kind in ("static_select", "overflow", "radio_buttons"):
        picked = _option(element, option)
        if picked is None:
            raise LookupError(f"no option {option!r} in {element['action_id']}")
        action["selected_option"] = picked
    elif kind in ("multi_static_select", "checkboxes"):
        action["selected_options"] = [o for o in _options(element) if o["value"] in (options or ())]
    elif kind == "users_select":
        action["selected_user"] = selected_user
    elif kind == "datepicker":
        action["selected_date"] = selected_date
    else:
        action["value"] = value if value is not None else element.get("value", "")
        if "text" in element:
            action["text"] = element["text"]
        if element.get("style"):
            action["style"] = element["style"]
    return action


def _interaction(
    kind: str,
    *,
    team: str,
    domain: str,
    user: str,
    user_team: str,
    user_name: str | None,
    trigger_id: str,
) -> dict[str, Any]:
    """What every interaction payload starts with: its type, the workspace Slack sends it to,
    who acted (and from which company), the app and the trigger."""
    return {
        "type": kind,
        "team": {"id": team, "domain": domain},
        "user": {"id": user, "username": user_name or user.lower(), "team_id": user_team},
        "api_app_id": APP_ID,
        "token": "legacy",
        "trigger_id": trigger_id,
    }


def message_action_payload(
    message: dict[str, Any],
    action: dict[str, Any],
    *,
    channel: str,
    ts: str,
    user: str,
    user_team: str,
    team: str,
    trigger_id: str,
    response_url: str,
    channel_name: str = "deal-room",
    team_domain: str = "ours",
    user_name: str | None = None,
    ephemeral: bool = False,
) -> dict[str, Any]:
    """block_actions from a message; `team`: the workspace whose installation Slack sends the
    click to, `user_team`: the clicker's own (another company's, in a Slack Connect channel)."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    if not ephemeral:
        container.pop("is_ephemeral")
    who = {"user": user, "user_team": user_team, "user_name": user_name}
    payload: dict[str, Any] = {
        **_interaction(
            "block_actions", team=team, domain=team_domain, trigger_id=trigger_id, **who
        ),
        "container": container,
        "channel": {"id": channel, "name": channel_name},
        "response_url": response_url,
        "actions": [action],
    }
    if not ephemeral:  # Slack sends no message for an ephemeral one
        payload["message"] = {
            "ts": ts,
            "blocks": message.get("blocks"),
            "text": message.get("text"),
            **({"user": message["user"]} if message.get("user") else {}),
        }
    return payload


def view_action_payload(
    view: dict[str, Any],
    action: dict[str, Any],
    *,
    view_id: str,
    user: str,
    team: str,
    trigger_id: str,
    user_team: str | None = None,
    state: dict[str, Any] | None = None,
    user_name: str | None = None,
) -> dict[str, Any]:
    """block_actions from a view: App Home, or a control of an open modal."""
    who = {"user": user, "user_team": user_team or team, "user_name": user_name}
    return {
        **_interaction("block_actions", team=team, domain="ours", trigger_id=trigger_id, **who),
        "container": {"type": "view", "view_id": view_id},
        "view": {
            **view,
            "id": view_id,
            "team_id": team,
            **({"state": {"values": state}} if state is not None else {}),
        },
        "actions": [action],
    }


def input_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`view.state.values` for a modal whose inputs hold `values` (block_id -> what was typed
    or picked: text, option value, option values, user id or date)."""
    state: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block["element"]
        raw = values.get(block["block_id"])
        state[block["block_id"]] = {element["action_id"]: element_state(element, raw)}
    return state


def view_submission_payload(
    view: dict[str, Any],
    values: dict[str, Any],
    *,
    view_id: str,
    user: str,
    user_team: str,
    installed_team: str,
    trigger_id: str,
    user_name: str | None = None,
) -> dict[str, Any]:
    """A modal submitted; `installed_team`: the workspace of the installation that opened it."""
    who = {"user": user, "user_team": user_team, "user_name": user_name}
    return {
        **_interaction("view_submission", team=user_team, domain="x", trigger_id=trigger_id, **who),
        "view": {
            **view,
            "id": view_id,
            "team_id": user_team,
            "app_installed_team_id": installed_team,
            "state": {"values": input_state(view, values)},
            "hash": "h",
        },
        "response_urls": [],
    }


def event_envelope(
    event: dict[str, Any],
    *,
    event_id: str,
    team: str,
    bot_user: str,
    ext_shared: bool = False,
) -> dict[str, Any]:
    """An Events API callback; `team`: the installation Slack picked; `ext_shared`: the
    channel is a Slack Connect channel (the envelope says so)."""
    return {
        "token": "legacy",
        "team_id": team,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "team_id": team,
                "user_id": bot_user,
                "is_bot": True,
                "enterprise_id": None,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": ext_shared,
    }


def retry_headers(retry_num: int | None) -> dict[str, str]:
    if retry_num is None:
        return {}
    return {"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"}


def element_state(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    kind = element["type"]
    if kind == "datepicker":
        return {"type": kind, "selected_date": raw}
    if kind in ("static_select", "radio_buttons"):
        return {"type": kind, "selected_option": _option(element, raw)}
    if kind in ("checkboxes", "multi_static_select"):
        chosen = [o for o in _options(element) if o["value"] in (raw or ())]
        return {"type": kind, "selected_options": chosen}
    if kind == "users_select":
        return {"type": kind, "selected_user": raw}
    return {"type": kind, "value": raw}


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    groups = element.get("option_groups") or []
    return list(element.get("options") or []) + [o for g in groups for o in g.get("options", [])]


def _option(element: dict[str, Any], value: str | None) -> dict[str, Any] | None:
    return next((o for o in _options(element) if o["value"] == value), None)
