"""Property: under any partnership policy, a partner company's every surface — the card copy in
its channel, the card's metadata and fallback text, the brief, the history, its list and App
Home line — carries no value of a field we do not share with it, says "not shared" where it
would have been, and the disclosure ledger lists only what was shown. Paused: nothing but the
deal's name crosses."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.card import build_deal_card
from blocks.replies import build_history, deal_line_text
from bot.domain.model import Attribution, Deal, NextStep, Role, Stage, Status, TrioMember
from bot.domain.partnership import GOVERNED, SHAREABLE, Policy, visible_under
from bot.views.deal_views import (
    brief_fields,
    brief_view,
    card_view,
    govern,
    govern_brief,
    metadata_fields,
    shared_card_fields,
    shared_deal_line,
)
from bot.views.models import HistoryEntry, HistoryView
from briefs.render import render_brief

TODAY = date(2026, 11, 24)
# A value for each governed field that nothing else on any surface can spell.
ACCOUNT = "Globexaccountmark"
AMOUNT, AMOUNT_SHOWN = Decimal("987654321"), "987,654,321"
CLOSE = date(2031, 7, 19)
STEP = "Stepmarktext"
STEP_DUE = date(2032, 3, 4)
SELLER, ALLY, REP = "U0SELLERQ", "U0ALLYQ", "U0REPQ"
NOTES = "Internalnotesmark"
# Which field each key of the card's metadata tells.
METADATA_KEYS = {
    "name": "name", "stage": "stage", "status": "status", "account": "account",
    "amount": "amount", "close_date": "close_date", "attribution": "attribution",
    "next_step_owner_role": "next_step", "next_step_due": "next_step",
}  # fmt: skip
# Where each governed field's value shows, as text a render would contain.
MARKS = {
    "account": (ACCOUNT,),
    "amount": (AMOUNT_SHOWN,),
    "close_date": (CLOSE.isoformat(),),
    "next_step": (STEP, STEP_DUE.isoformat()),
    "trio": (SELLER, ALLY),
}


@st.composite
def cases(draw: st.DrawFn) -> tuple[Deal, Policy]:
    stage = draw(
        st.sampled_from([s for s in Stage if s not in (Stage.CLOSED_WON, Stage.CLOSED_LOST)])
    )
    step_owner = (Role.PARTNER, REP)  # a step our people own names them: part of the trio
    deal = Deal(
        id=draw(st.integers(1, 10**6)),
        key="PTM-7",
        name="Deal " + str(draw(st.integers(1, 999))),
        account=ACCOUNT if draw(st.booleans()) else "",
        amount=AMOUNT if draw(st.booleans()) else None,
        currency="USD",
        close_date=CLOSE if draw(st.booleans()) else None,
        stage=stage,
        status=Status.OPEN,
        attribution=draw(st.none() | st.sampled_from(Attribution)),
        partner=None,
        cosell=frozenset(),
        version=draw(st.integers(1, 999)),
        created_by=SELLER,
        updated_by=draw(st.sampled_from([SELLER, ALLY, REP])),
        updated_at=datetime(2026, 11, 24, tzinfo=UTC),
        trio=(
            TrioMember(Role.SELLER, SELLER),
            TrioMember(Role.ALLIANCE, ALLY),
            TrioMember(Role.PARTNER, REP, team_id="TPART", is_external=True),
        ),
        next_step=draw(
            st.none()
            | st.just(
                NextStep(
                    id=3,
                    text=STEP,
                    owner_role=step_owner[0],
                    owner_user=step_owner[1],
                    due=STEP_DUE,
                    set_by=SELLER,
                )  # fmt: skip
            )
        ),
        internal_notes=NOTES,
    )
    shares = draw(st.lists(st.sampled_from(sorted(SHAREABLE)), unique=True))
    policy = Policy("Partner Co", tuple(f for f in SHAREABLE if f in {"name", *shares}),
                    paused=draw(st.booleans()))  # fmt: skip
    return deal, policy


def _history(deal: Deal, policy: Policy) -> dict[str, object]:
    changes = {
        "account": ["", ACCOUNT],
        "amount": [None, str(AMOUNT)],
        "close_date": [None, CLOSE.isoformat()],
        "stage": ["Qualify", deal.stage.value],
        "attribution": [None, "sourced"],
        "next_step": [None, STEP],
        "next_step.due": [None, STEP_DUE.isoformat()],
        "trio.seller": [None, SELLER],
        "name": ["Old", deal.name],
    }
    shown = visible_under(changes, policy)
    entry = HistoryEntry(
        2, REP, "partner org", tuple((k, v[0], v[1]) for k, v in shown.items()),  # type: ignore[index]
        "modal", datetime(2026, 11, 24, tzinfo=UTC),
    )  # fmt: skip
    return build_history(HistoryView(deal.key, deal.name, (entry,)))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_a_partner_company_sees_only_what_our_policy_shares(case: tuple[Deal, Policy]) -> None:
    deal, policy = case
    withheld = policy.withheld()
    card = govern(card_view(deal, TODAY, internal=False), policy)
    message = build_deal_card(card)
    brief = govern_brief(brief_view(deal, "", internal=False), policy)
    line = shared_deal_line(deal, TODAY, company="Ours", shares=policy.shares, paused=policy.paused)
    surfaces = {
        "card": json.dumps(message["blocks"], ensure_ascii=False) + message["text"],
        "metadata": json.dumps(message["metadata"], ensure_ascii=False),
        "brief": render_brief(brief),
        "history": json.dumps(_history(deal, policy), ensure_ascii=False),
        "list": deal_line_text(line),
    }
    for surface, text in surfaces.items():
        assert NOTES not in text, surface  # internal fields never cross
        for field in withheld & set(MARKS):
            for mark in MARKS[field]:
                assert mark not in text, (surface, field)
        if "stage" in withheld:
            assert f"*Stage*\\n{deal.stage.value}" not in text and "Change stage" not in text
            assert f"Stage:* {deal.stage.value}" not in text and f"· {deal.stage.value}" not in text
        if "attribution" in withheld and deal.attribution:
            assert f"Attribution*\\n{deal.attribution.value}" not in text
    meta = message["metadata"]["event_payload"]
    assert not {"stage", "amount", "close_date", "account", "attribution"} & withheld & set(meta)
    # The ledger's metadata rows are exactly the fields the metadata tells (paused: none).
    assert set(metadata_fields(card)) == {METADATA_KEYS[k] for k in meta if k in METADATA_KEYS}
    # The ledger records only what was shown.
    recorded = {*shared_card_fields(card), *metadata_fields(card), *brief_fields(brief)}
    assert not recorded & withheld
    if policy.paused:
        assert set(shared_card_fields(card)) == {"name"} and "paused" in surfaces["card"]
        assert deal.name in surfaces["card"]
        return
    # Where a withheld value would have been, the partner reads "not shared"; what is shared
    # shows (so the checks above are not vacuous).
    for field in set(GOVERNED) & set(MARKS):
        present = {
            "account": bool(deal.account), "amount": deal.amount is not None,
            "close_date": deal.close_date is not None, "next_step": deal.next_step is not None,
            "trio": True,
        }[field]  # fmt: skip
        if field in withheld:
            assert "not shared" in surfaces["card"]
        elif present:
            assert MARKS[field][0] in surfaces["card"], field
            assert field in shared_card_fields(card)


# --- several partner companies on one deal ---------------------------------------------------

COMPANIES = {"TA": ("UAREPQ", "Alphaco", "cloud"), "TB": ("UBREPQ", "Betaco", "si"),
             "TC": ("UCREPQ", "Gammaco", "isv")}  # fmt: skip


@st.composite
def partner_cases(draw: st.DrawFn) -> tuple[Deal, list[str], bool]:
    teams = draw(st.lists(st.sampled_from(sorted(COMPANIES)), min_size=2, max_size=3, unique=True))
    partners = tuple(
        TrioMember(Role.PARTNER, COMPANIES[t][0], team_id=t, is_external=True, kind=COMPANIES[t][2])
        for t in teams
    )
    owner = draw(st.sampled_from([*teams, None]))
    deal = Deal(
        id=1, key="PTM-3", name="Deal 3", account="", amount=None, currency="USD",
        close_date=None, stage=Stage.DISCOVER, status=Status.OPEN, attribution=None,
        partner=None, cosell=frozenset(), version=2, created_by=SELLER, updated_by=SELLER,
        updated_at=datetime(2026, 11, 24, tzinfo=UTC),
        trio=(TrioMember(Role.SELLER, SELLER), TrioMember(Role.ALLIANCE, ALLY), *partners),
        next_step=None if owner is None else NextStep(
            id=4, text=STEP, owner_role=Role.PARTNER, owner_user=COMPANIES[owner][0],
            due=None, set_by=SELLER,
        ),
    )  # fmt: skip
    channel = draw(st.lists(st.sampled_from(teams), min_size=1, unique=True))
    return deal, channel, draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(partner_cases())
def test_each_partner_company_sees_the_others_only_as_our_policy_allows(
    case: tuple[Deal, list[str], bool],
) -> None:
    from bot.views.deal_views import among_partners, brief_among_partners

    deal, channel, see_each_other = case
    names = {t: COMPANIES[t][1] for t in COMPANIES}
    card = among_partners(
        card_view(deal, TODAY, internal=False), channel, names, see_each_other=see_each_other
    )
    brief = brief_among_partners(
        brief_view(deal, "", internal=False), deal, channel, names, see_each_other=see_each_other
    )
    message = build_deal_card(card)
    surfaces = {
        "card": json.dumps(message["blocks"], ensure_ascii=False) + message["text"],
        "metadata": json.dumps(message["metadata"], ensure_ascii=False),
        "brief": render_brief(brief),
    }
    if len(channel) == 1:  # their own list and App Home (their company's PTM)
        line = shared_deal_line(
            deal, TODAY, company="Ours", shares=tuple(SHAREABLE), paused=False,
            viewer_team=channel[0],
        )  # fmt: skip
        surfaces["list"] = deal_line_text(line)
    present = [t for t in COMPANIES if any(p.team_id == t for p in deal.partners)]
    for surface, text in surfaces.items():
        for team in present:
            rep, name, _kind = COMPANIES[team]
            if team in channel:
                if surface in ("card", "brief"):
                    assert rep in text, (surface, team)  # their own rep, always
                continue
            assert rep not in text, (surface, team)  # never another company's rep
            if not see_each_other:
                assert name not in text, (surface, team)  # competitors: not even the name
            elif surface == "card":
                assert name in text, (surface, team)  # by company and role
            if surface == "list":
                assert name not in text
    fields = shared_card_fields(card)
    assert ("partners" in fields) == (see_each_other and bool(set(present) - set(channel)))
