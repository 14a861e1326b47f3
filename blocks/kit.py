"""Tiny Block Kit helpers: escaping, truncation and element constructors returning plain dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.model import esc

Block = dict[str, Any]

SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
OPTION_TEXT_LIMIT = 75
CONTEXT_TEXT_LIMIT = 2000
MESSAGE_BLOCK_LIMIT = 50


def escape(text: str) -> str:
    """Escape user text for mrkdwn: only &, < and >, so it cannot form mentions or links."""
    return esc(text, limit=len(text) + 1)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def user_text(text: str, limit: int) -> str:
    """User text made safe for mrkdwn and at most `limit` characters once escaped.

    Cut before escaping, by escaped length, so no `&amp;` entity is ever split in two.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out, used = [], 0
    for char in text:
        piece = escape(char)
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out).rstrip() + "…"


def mention(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "_nobody_"


def channel(channel_id: str) -> str:
    """A channel link (ids are Slack's, never user text)."""
    return f"<#{channel_id}>"


def slack_date(moment: datetime) -> str:
    """A timestamp every reader sees in their own time zone, with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def plain(text: str, limit: int = SECTION_TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, limit) or " "}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_LIMIT)}


def section(text: str, *, fields: list[str] | None = None, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if fields:
        block["fields"] = [mrkdwn(f, FIELD_TEXT_LIMIT) for f in fields[:10]]
    if block_id:
        block["block_id"] = block_id
    return block


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t, CONTEXT_TEXT_LIMIT) for t in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, *, value: str = "", style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT_LIMIT),
        "action_id": action_id,
    }
    if value:
        element["value"] = value
    if style:
        element["style"] = style
    return element


def confirm(title: str, text: str, yes: str, *, danger: bool = False) -> dict[str, Any]:
    """A button's "are you sure?" dialog; `text` is mrkdwn with user parts already escaped."""
    dialog: dict[str, Any] = {
        "title": plain(title, 100),
        "text": mrkdwn(text, 300),
        "confirm": plain(yes, 30),
        "deny": plain("Cancel", 30),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, OPTION_TEXT_LIMIT), "value": value}


def chunk_sections(text: str, limit: int = SECTION_TEXT_LIMIT) -> list[Block]:
    """Split long mrkdwn into sections on line breaks, each within Slack's section limit."""
    blocks, current = [], ""
    for line in text.split("\n"):
        while len(line) > limit:
            blocks.append(section(line[:limit]))
            line = line[limit:]
        if len(current) + len(line) + 1 > limit:
            blocks.append(section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(section(current))
    return blocks
