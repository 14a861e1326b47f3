"""Builders are pure and always produce valid Block Kit, whatever users typed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.card import build_deal_card
from blocks.ids import Action
from blocks.metadata import CardRef, EditDealMeta
from blocks.modals import build_edit_deal_modal, build_new_deal_modal, build_next_step_modal
from blocks.replies import build_deal_list, build_help, build_notice
from bot.demo.blockkit import validate_blocks, validate_view
from bot.views.models import CardView, DealLine, EditForm, MemberView, NextStepForm, StepView


def card(
    name: str = "Acme",
    account: str = "Acme Corp",
    step: str | None = "call",
    partner: str | None = None,
) -> CardView:
    return CardView(
        deal_id=7,
        key="PTM-7",
        name=name,
        account=account,
        stage="Validate",
        status="open",
        amount="USD 120,000",
        close_date=date(2027, 1, 1),
        attribution="co-sell",
        partner=partner,
        members=(
            MemberView("seller", "U0S", synced=True, synced_version=4),
            MemberView("alliance", None),
            MemberView("partner", "U0P", synced_version=2, is_external=True),
        ),
        next_step=StepView(3, step, "U0P", "partner", date(2026, 11, 1), True) if step else None,
        cosell=(
            ("trigger", True),
            ("match", False),
            ("brief", False),
            ("meeting", False),
            ("log", False),
        ),
        version=4,
        updated_by="U0S",
        updated_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
        stages=(
            "Qualify",
            "Discover",
            "Validate",
            "Propose",
            "Negotiate",
            "Closed Won",
            "Closed Lost",
        ),
    )


def mrkdwn_texts(message: dict) -> list[str]:  # type: ignore[type-arg]
    """Every text Slack parses as mrkdwn (plain_text shows `<` literally, so it cannot forge)."""
    texts = [message["text"]]
    for block in message["blocks"]:
        for item in [block.get("text")] + block.get("fields", []) + block.get("elements", []):
            if isinstance(item, dict) and item.get("type") == "mrkdwn":
                texts.append(item["text"])
    return texts


def test_card_layout() -> None:
    message = build_deal_card(card())
    assert validate_blocks(message["blocks"]) == []
    assert message["text"].startswith("PTM-7 Acme")
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    assert CardRef.from_block_id(actions["block_id"]) == CardRef(d=7, v=4)
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == [
        Action.STAGE_SELECT,
        Action.STEP_DONE,
        Action.STEP_SET,
        Action.SYNCED,
        Action.LOG_OUTCOME,
        Action.MORE,
    ]
    assert actions["elements"][0]["initial_option"]["value"] == "Validate"
    text = str(message["blocks"])
    assert ":warning: *overdue*" in text and "(partner org)" in text and "behind (saw v2)" in text
    assert "Alliance: _not named" in text


def test_card_without_next_step_has_no_done_button() -> None:
    message = build_deal_card(card(step=None))
    assert Action.STEP_DONE not in str(message) and "none yet" in str(message)


def test_same_view_gives_same_card() -> None:
    assert build_deal_card(card()) == build_deal_card(card())


user_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=700
) | st.sampled_from(["<!channel>", "<@U0ALLY>", "<https://evil.example|x>", "&lt;", "*_~`"])


@settings(max_examples=150, deadline=None)
@given(name=user_text, account=user_text, step=user_text, partner=user_text)
def test_any_user_text_gives_a_valid_card_without_forged_mentions(
    name: str, account: str, step: str, partner: str
) -> None:
    message = build_deal_card(
        card(name=name or "x", account=account, step=step or "x", partner=partner)
    )
    assert validate_blocks(message["blocks"]) == []
    assert len(message["text"]) <= 300
    # The only specials in the card are the ones we put there: mentions of known ids and dates.
    specials = set(re.findall(r"<[^>]*>", "\n".join(mrkdwn_texts(message))))
    assert specials <= {
        "<@U0S>",
        "<@U0P>",
        "<!date^1795510800^{date_short_pretty} at {time}|2026-11-24 09:00 UTC>",
    }


def test_modals_validate() -> None:
    form = EditForm(
        7, "PTM-7", 4, "n" * 200, "a" * 200, "120000.00", "USD", date(2027, 1, 1), "sourced"
    )
    edit = build_edit_deal_modal(form, "C1")
    assert validate_view(edit) == []
    assert EditDealMeta.decode(edit["private_metadata"]).d == 7
    assert validate_view(build_new_deal_modal("C1")) == []
    step_form = NextStepForm(
        7,
        "PTM-7",
        4,
        "x" * 500,
        "partner",
        date(2026, 12, 1),
        (("seller", "U0S"), ("alliance", None), ("partner", "U0P")),
    )
    assert validate_view(build_next_step_modal(step_form, None)) == []


def test_replies_validate_and_stay_within_50_blocks() -> None:
    lines = tuple(
        DealLine(f"PTM-{i}", "<!here> " * 40, "Qualify", "s" * 400, "U0S", None, False)
        for i in range(120)
    )
    listed = build_deal_list(lines)
    assert validate_blocks(listed["blocks"]) == [] and len(listed["blocks"]) <= 50
    assert "…and 80 more" in str(listed) and "<!here>" not in str(listed)
    assert validate_blocks(build_help()["blocks"]) == []
    assert validate_blocks(build_notice("x" * 9000)["blocks"]) == []
