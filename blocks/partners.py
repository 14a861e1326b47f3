"""`/ptm find` results: ranked partners, why each ranks, and an attach button per partner."""

from __future__ import annotations

import json
from typing import Any

from blocks import kit
from blocks.ids import Action
from bot.views.models import FindView


def build_find_results(view: FindView) -> dict[str, Any]:
    asked = " ".join(view.query) or "this deal"
    if not view.ranked:
        text = (
            f"No partner in the capability map matches “{kit.user_text(asked, 200)}”. "
            "Try other words (industry, buyer level, competency, region), or import partners "
            "with `ptm partners import FILE.csv`."
        )
        return {"text": text, "blocks": [kit.section(text)]}
    blocks: list[dict[str, Any]] = [kit.section(f"*Partners for* “{kit.user_text(asked, 200)}”")]
    for n, ranked in enumerate(view.ranked, start=1):
        why = " · ".join(kit.user_text(r, 120) for r in ranked.reasons)
        contacts = ", ".join(kit.user_text(c, 80) for c in ranked.partner.contacts[:2])
        line = f"*{n}. {kit.user_text(ranked.partner.name, 150)}* — {why}"
        if contacts:
            line += f"\nContacts: {contacts}"
        block = kit.section(line)
        value = json.dumps(
            {"d": view.deal_id, "p": ranked.partner.name}, separators=(",", ":"), ensure_ascii=False
        )
        # A name imported before names were bounded may not fit a button's 2,000 characters.
        if view.deal_id is not None and len(value) <= kit.BUTTON_VALUE_LIMIT:
            block["accessory"] = kit.button(
                f"Attach to {view.deal_key}", Action.ATTACH_PARTNER, value=value
            )
        blocks.append(block)
    if view.deal_id is None:
        blocks.append(
            kit.context(
                "Run it in a deal room (or with a key: `/ptm find PTM-12 …`) "
                "to attach a partner to the deal."
            )
        )
    return {"text": f"Partners for {asked}"[:300], "blocks": blocks}
