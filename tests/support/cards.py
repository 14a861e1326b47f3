"""Read a posted deal card the way a person would: its text, version and controls."""

from __future__ import annotations

import json
import re
from typing import Any


def card_text(message: dict[str, Any]) -> str:
    """All visible text of a message's blocks, joined with newlines."""
    parts: list[str] = []
    for block in message.get("blocks") or []:
        for key in ("text",):
            if isinstance(block.get(key), dict):
                parts.append(block[key]["text"])
        for item in block.get("fields", []) + block.get("elements", []):
            if isinstance(item, dict) and item.get("type") in ("mrkdwn", "plain_text"):
                parts.append(item["text"])
    return "\n".join(parts)


def card_version(message: dict[str, Any]) -> int:
    block = next(b for b in message["blocks"] if b["type"] == "actions")
    return int(json.loads(block["block_id"].split(":", 2)[2])["v"])


def card_stage(message: dict[str, Any]) -> str:
    found = re.search(r"\*Stage\*\n(.+)", card_text(message))
    assert found
    return found.group(1)


def has_control(message: dict[str, Any], action_id: str) -> bool:
    return any(
        e.get("action_id") == action_id
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    )
