"""Property: whatever the internal fields hold, no partner-facing render contains them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.card import build_deal_card
from blocks.modals import build_edit_deal_modal, build_next_step_modal
from blocks.replies import build_deal_list, build_history
from bot.domain.model import (
    Attribution,
    Deal,
    ForecastCategory,
    NextStep,
    Role,
    Stage,
    Status,
    TrioMember,
)
from bot.domain.rules import visible_changes
from bot.views.deal_views import card_view, deal_line, edit_form, next_step_form
from bot.views.models import HistoryEntry, HistoryView

# User-typed text never spells the internal label the test looks for ("Forecast" as a deal's
# account would be no leak).
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300).filter(
    lambda t: "forecast" not in t.casefold()
)
token = st.from_regex(r"\A[A-Z]{4}[0-9]{6}[a-z]{4}\Z")


@st.composite
def deals(draw: st.DrawFn) -> tuple[Deal, str]:
    secret = draw(token)
    notes = draw(text) + secret + draw(text)
    deal = Deal(
        id=draw(st.integers(1, 10**6)),
        key="PTM-9",
        name=draw(text) or "x",
        account=draw(text),
        amount=draw(st.none() | st.decimals(0, 10**9, places=2)),
        currency="USD",
        close_date=draw(st.none() | st.dates()),
        stage=draw(st.sampled_from(Stage)),
        status=Status.OPEN,
        attribution=draw(st.none() | st.sampled_from(Attribution)),
        partner=draw(st.none() | text),
        cosell=frozenset(),
        version=draw(st.integers(1, 999)),
        created_by="U0C",
        updated_by="U0C",
        updated_at=datetime(2026, 11, 24, tzinfo=UTC),
        trio=(TrioMember(Role.SELLER, "U0S"), TrioMember(Role.PARTNER, "U0P", is_external=True)),
        next_step=draw(
            st.none()
            | st.builds(
                NextStep,
                id=st.integers(1, 99),
                text=text.filter(bool),
                owner_role=st.just(Role.SELLER),
                owner_user=st.just("U0S"),
                due=st.none() | st.dates(),
                set_by=st.just("U0S"),
            )
        ),
        internal_notes=notes,
        forecast_category=draw(st.none() | st.sampled_from(ForecastCategory)),
    )
    return deal, secret


@settings(max_examples=200, deadline=None)
@given(deals())
def test_no_partner_facing_render_contains_internal_values(drawn: tuple[Deal, str]) -> None:
    deal, secret = drawn
    today = date(2026, 11, 24)
    shared_card = card_view(deal, today, internal=False)
    entry_changes = visible_changes(
        {"internal_notes": ["", deal.internal_notes], "stage": ["Qualify", deal.stage.value]},
        internal=False,
    )
    history = HistoryView(
        deal.key,
        deal.name,
        (
            HistoryEntry(
                2,
                "U0S",
                "our org",
                tuple((k, v[0], v[1]) for k, v in entry_changes.items()),  # type: ignore[index]
                "modal",
                datetime(2026, 11, 24, tzinfo=UTC),
            ),
        ),
    )
    renders = [
        build_deal_card(shared_card),
        build_edit_deal_modal(edit_form(deal, internal=False), "C1"),
        build_next_step_modal(next_step_form(deal), "C1"),
        build_deal_list((deal_line(deal, today),)),
        build_history(history),
    ]
    for render in renders:
        dumped = json.dumps(render, ensure_ascii=False)
        assert secret not in dumped
        if deal.forecast_category:
            assert "Forecast" not in dumped
    # Control: the internal audience does get them (so the check above is not vacuous).
    internal = json.dumps(
        build_deal_card(card_view(deal, today, internal=True)), ensure_ascii=False
    )
    assert "Internal — our org only" in internal and secret in internal
    assert isinstance(deal.amount, Decimal | None)
