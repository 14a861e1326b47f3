"""What Slack refuses: Block Kit checked with slack_sdk's own models and limits, and mrkdwn
with `<…>` that is neither a mention, a channel, a date nor a link (user text left unescaped).

The demo's Slack refuses such a call as Slack would (`invalid_blocks`) and says why on the
page; the tests' fake Slack records the same problems so a test fails on them.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100

# In mrkdwn, `<…>` is a mention, channel, date or link; anything else means unescaped text.
STRAY_ANGLE = re.compile(r"<(?![@#]|!date\^|!here|!channel|!everyone|https?://|mailto:)[^>]*>")


def stray_markup(text: str) -> list[str]:
    return [f"unescaped {m!r}" for m in STRAY_ANGLE.findall(text)]


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    texts = []
    for block in blocks:
        items = [block.get("text")] + block.get("fields", []) + block.get("elements", [])
        texts += [i["text"] for i in items if isinstance(i, dict) and i.get("type") == "mrkdwn"]
    return texts


def validate_blocks(
    blocks: list[dict[str, Any]] | None, *, limit: int = MESSAGE_BLOCK_LIMIT
) -> list[str]:
    """Every problem Slack (or slack_sdk's models of its limits) would find in `blocks`."""
    problems: list[str] = []
    if blocks is None:
        return problems
    if not isinstance(blocks, list):
        return [f"blocks must be a list, not {type(blocks).__name__}"]
    for text in mrkdwn_texts(blocks):
        problems += stray_markup(text)
    if len(blocks) > limit:
        problems.append(f"{len(blocks)} blocks (limit {limit})")
    for raw in blocks:
        try:
            block = Block.parse(raw)
            if block is None:
                problems.append(f"unknown block {raw.get('type')}")
                continue
            block.validate_json()
            Block.parse(raw).to_dict()  # type: ignore[union-attr]
        except Exception as err:  # noqa: BLE001 - slack_sdk raises several kinds
            problems.append(f"{raw.get('type')}: {err}")
    return problems


def validate_view(view: dict[str, Any]) -> list[str]:
    try:
        View(**view).validate_json()
    except Exception as err:  # noqa: BLE001 - slack_sdk raises several kinds
        return [f"view: {err}"]
    return validate_blocks(view.get("blocks"), limit=VIEW_BLOCK_LIMIT)


def validate_message(payload: dict[str, Any]) -> list[str]:
    """A message's blocks, and the text fallback Slack wants beside them."""
    problems = validate_blocks(payload.get("blocks"))
    if payload.get("blocks") and not payload.get("text"):
        problems.append("message without a text fallback")
    return problems
