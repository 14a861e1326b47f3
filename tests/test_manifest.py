"""manifest.yml declares exactly what the code listens to, with the fewest scopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from blocks.ids import Action, Callback
from bot.adapters.slack import BOT_SCOPES
from handlers.events import EVENT_TYPES, UNINSTALL_EVENTS
from tests.support.harness import RunningBot

ROOT = Path(__file__).resolve().parent.parent
# Scope each subscribed event needs; any other scope must be justified in this table.
EVENT_SCOPES = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "app_mention": "app_mentions:read",
    "channel_shared": "channels:read",
    "channel_unshared": "channels:read",
    "app_home_opened": None,  # needs no scope, only the Home tab enabled
    "app_uninstalled": None,
    "tokens_revoked": None,
}
# chat.* posts, /ptm, users.info (a member's org), conversations.info (public and private),
# the metrics picture: conversations.open for the DM and the file upload.
FEATURE_SCOPES = {
    "chat:write",
    "commands",
    "users:read",
    "channels:read",
    "groups:read",
    "im:write",
    "files:write",
}


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_declares_command_interactivity_and_events() -> None:
    m = manifest()
    [command] = m["features"]["slash_commands"]
    assert command["command"] == "/ptm" and command["should_escape"] is True
    assert command["url"].endswith("/slack/events")
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    events = m["settings"]["event_subscriptions"]["bot_events"]
    assert {e.split(".")[0] for e in events} == set(EVENT_TYPES) | set(UNINSTALL_EVENTS)
    assert len(m["display_information"]["name"]) <= 35
    assert 175 <= len(m["display_information"]["long_description"]) <= 4000


def test_scopes_are_the_fewest_the_features_need() -> None:
    m = manifest()
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    events = m["settings"]["event_subscriptions"]["bot_events"]
    assert scopes == FEATURE_SCOPES | {EVENT_SCOPES[e] for e in events if EVENT_SCOPES[e]}
    # "Add to Slack" asks for exactly these.
    assert set(BOT_SCOPES) == scopes and len(BOT_SCOPES) == len(scopes)


def test_many_workspaces_get_the_redirect_and_the_uninstall_events() -> None:
    m = manifest()
    assert m["oauth_config"]["redirect_urls"] == ["https://HOST/slack/oauth_redirect"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(
        m["settings"]["event_subscriptions"]["bot_events"]
    )


def test_both_manifests_declare_the_card_metadata() -> None:
    from blocks.card import CARD_EVENT

    socket = yaml.safe_load((ROOT / "manifest.socket.yml").read_text())
    for m in (manifest(), socket):
        declared = m["settings"]["event_subscriptions"]["metadata_subscriptions"]
        assert {"app_id": "*", "event_type": CARD_EVENT} in declared


def test_the_socket_mode_manifest_needs_no_editing() -> None:
    """manifest.socket.yml is manifest.yml without the URLs, with Socket Mode on."""
    http = manifest()
    text = (ROOT / "manifest.socket.yml").read_text()
    socket = yaml.safe_load(text)
    assert "HOST" not in text and "url" not in str(socket).replace("redirect", "")
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "redirect_urls" not in socket["oauth_config"]
    assert socket["oauth_config"]["scopes"] == http["oauth_config"]["scopes"]
    assert (
        socket["settings"]["event_subscriptions"]["bot_events"]
        == (http["settings"]["event_subscriptions"]["bot_events"])
    )
    [command] = socket["features"]["slash_commands"]
    assert "url" not in command and command["command"] == "/ptm"
    assert socket["display_information"] == http["display_information"]


async def test_every_manifest_event_and_card_control_has_a_listener(bot: RunningBot) -> None:
    """The app raises on unhandled requests in tests, so a 404 would mean no listener."""
    await bot.slack.command("new Acme")
    [(channel, ts)] = bot.posted_cards()
    for event in manifest()["settings"]["event_subscriptions"]["bot_events"]:
        kind = event.split(".")[0]
        status, _ = await bot.slack.event(
            {"type": kind, "channel": channel, "user": "UX", "text": "hi", "ts": "1.1"},
            event_id=f"E-{event}",
        )
        assert status == 200, event
    card = bot.card(channel, ts)
    emitted = {
        e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    assert emitted <= {a.value for a in Action}
    for action in Action:
        if action.value not in emitted:
            continue
        kwargs: dict[str, Any] = {}
        if action is Action.STAGE_SELECT:
            kwargs["option"] = "Discover"
        if action is Action.MORE:
            kwargs["option"] = "history"
        status, _ = await bot.slack.click(
            bot.card(channel, ts), action.value, channel=channel, ts=ts, **kwargs
        )
        assert status == 200, action
    assert {c.value for c in Callback} == {
        "ptm_new_deal",
        "ptm_edit_deal",
        "ptm_next_step",
        "ptm_log_outcome",
        "ptm_crm_connector",
        "ptm_partnership_propose",
        "ptm_partnership_accept",
        "ptm_own_fields",
        "ptm_partners",
        "ptm_aws_cosell",
        "ptm_aws_reject",
    }


def test_dependencies_are_what_runs() -> None:
    """Run-time dependencies are what the bot imports; test-only ones are in `dev`."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    dev = " ".join(project["optional-dependencies"]["dev"])
    assert "pydantic-settings" not in runtime + dev
    assert "pyyaml" not in runtime and "pyyaml" in dev
    assert "tzdata" in runtime  # zoneinfo needs it where the system has no zone database
    shipped = [
        p
        for pkg in ("bot", "handlers", "blocks", "store", "briefs")
        for p in (ROOT / pkg).rglob("*.py")
    ]
    assert not [p for p in shipped if "import yaml" in p.read_text()]
