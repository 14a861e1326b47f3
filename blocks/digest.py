"""The digest DM: rendered mrkdwn split into sections, plus the pause / resume control."""

from __future__ import annotations

from typing import Any

from blocks import kit
from blocks.ids import Action
from bot.views.digest import Nudge

DIGEST_BLOCK = "ptm_digest_controls"


def build_digest_message(text: str, *, paused: bool = False) -> dict[str, Any]:
    blocks = kit.chunk_sections(text)[: kit.MESSAGE_BLOCK_LIMIT - 2]
    blocks.append(kit.context("One digest a day at your local digest hour. Nothing to say, no DM."))
    blocks.append(
        {"type": "actions", "block_id": DIGEST_BLOCK, "elements": [_pause_button(paused)]}
    )
    return {
        "text": kit.truncate(text.splitlines()[0] if text else "Your PTM digest", 300),
        "blocks": blocks,
    }


def build_pause_notice(paused: bool) -> dict[str, Any]:
    text = (
        "Digests paused. You will get none until you resume."
        if paused
        else "Digests resumed: the next one comes at your digest hour."
    )
    controls = {"type": "actions", "block_id": DIGEST_BLOCK, "elements": [_pause_button(paused)]}
    return {"text": text, "blocks": [kit.section(text), controls]}


def _pause_button(paused: bool) -> dict[str, Any]:
    if paused:
        return kit.button("Resume digests", Action.DIGEST_RESUME, value="resume")
    return kit.button("Pause digests", Action.DIGEST_PAUSE, value="pause")


def build_nudge(nudge: Nudge) -> dict[str, Any]:
    """The daily reminder for a partner rep; shared fields only. In the deal room's thread, or
    as a DM from their own company's PTM (a partnership), where `/ptm` works for them."""
    when = f" · due {nudge.due.isoformat()}" if nudge.due else ""
    late = " · :warning: *overdue*" if nudge.overdue else ""
    if nudge.via is not None:
        done = (
            f"Done? `/ptm done {nudge.deal_key}`, or press *Mark step done* on the card in "
            f"{kit.channel(nudge.channel_id)}."
        )
    else:
        done = "Done? Press *Mark step done* on the card or reply `@PTM done`."
    text = (
        f"{kit.mention(nudge.user_id)} your next step on *{nudge.deal_key}*: "
        f"{kit.user_text(nudge.text, 600)}{when}{late}\n{done}"
    )
    return {"text": text, "blocks": [kit.section(text)]}
