"""The digest DM: rendered mrkdwn split into sections, plus the pause / resume control."""

from __future__ import annotations

from datetime import date
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


def build_partner_moves(nudges: list[Nudge]) -> dict[str, Any]:
    """The daily DM, through their own company's PTM, to someone of a partner company who owns
    next steps on our deals: each move (overdue first) and how to mark it done from there."""
    ordered = sorted(nudges, key=lambda n: (not n.overdue, n.due or date.max, n.deal_key))
    home = kit.user_text(ordered[0].home, 80) if ordered[0].home else "Your partner"
    lines = [f"*Your moves on deals {home} shares with you* ({len(ordered)})"]
    for n in ordered[:MAX_MOVES]:
        when = f" · due {n.due.isoformat()}" if n.due else ""
        late = ":warning: *overdue* " if n.overdue else ""
        lines.append(
            f"• {late}*{n.deal_key}* {kit.user_text(n.text, 300)}{when} · card in "
            f"{kit.channel(n.channel_id)}"
        )
    if len(ordered) > MAX_MOVES:
        lines.append(f"…and {len(ordered) - MAX_MOVES} more.")
    done = f"`/ptm done {ordered[0].deal_key}`"
    text = "\n".join(lines)
    return {
        "text": text[:3000],
        "blocks": [
            kit.section(kit.truncate(text, 2900)),
            kit.context(f"Done with one? {done} here, or *Mark step done* on its card."),
        ],
    }


MAX_MOVES = 20


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
