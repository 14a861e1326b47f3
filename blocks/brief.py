"""The co-sell brief message: rendered mrkdwn split into sections within Slack's limits."""

from __future__ import annotations

from typing import Any

from blocks import kit


def build_brief_message(text: str, *, preview: bool = False) -> dict[str, Any]:
    blocks = kit.chunk_sections(text)[: kit.MESSAGE_BLOCK_LIMIT - 1]
    if preview:
        blocks.insert(
            0,
            kit.context(
                ":eyes: Preview: this is exactly what the partner's side will see. "
                "Post it with `/ptm brief` (add the ask after it)."
            ),
        )
    return {
        "text": kit.truncate(text.splitlines()[0] if text else "Co-sell brief", 300),
        "blocks": blocks,
    }
