"""`/ptm` text parsing, including what people really type."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.grammar import parse_command
from bot.domain.intents import (
    Done,
    Help,
    ListDeals,
    NewDeal,
    PostCard,
    SetNext,
    SetStage,
    SetTrio,
)
from bot.domain.model import BadInput, Role, Stage

TODAY = date(2026, 11, 24)


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_command(text, today=TODAY)


def test_simple_commands() -> None:
    assert parse("").intent == Help() and parse("HELP").intent == Help()
    assert parse("done").intent == Done() and parse("card").intent == PostCard()
    assert parse("list").intent == ListDeals() and parse("new").intent == NewDeal(None)
    assert parse("new  Acme   &amp; Co &lt;EU&gt;").intent == NewDeal("Acme & Co <EU>")


def test_deal_key_anywhere_a_deal_is_needed() -> None:
    p = parse("stage ptm-12 closed won")
    assert p.deal_number == 12 and p.intent == SetStage(Stage.CLOSED_WON)
    assert parse("done PTM-3").deal_number == 3
    assert parse("new PTM-3 is a name").intent == NewDeal("PTM-3 is a name")


def test_trio_forms() -> None:
    p = parse("trio <@U0SAM|sam> <@U0AL> <@U0PAT|pat>")
    assert p.intent == SetTrio({Role.SELLER: "U0SAM", Role.ALLIANCE: "U0AL", Role.PARTNER: "U0PAT"})
    assert parse("trio Partner <@U0PAT>").intent == SetTrio({Role.PARTNER: "U0PAT"})
    assert parse("trio seller <@U0SAM> partner <@U0PAT>").intent == SetTrio(
        {Role.SELLER: "U0SAM", Role.PARTNER: "U0PAT"}
    )
    for bad in (
        "trio",
        "trio @sam @al @pat",
        "trio <@U0SAM> <@U0AL>",
        "trio boss <@U0SAM>",
        "trio seller <@U0SAM> seller <@U0AL>",
    ):
        with pytest.raises(BadInput, match="/ptm trio @seller @alliance @partner"):
            parse(bad)


def test_next_step_forms() -> None:
    assert parse("next call the CFO").intent == SetNext("call the CFO")
    assert parse("next call the CFO for <@U0NINE|x> by 2026-12-01").intent == SetNext(
        "call the CFO", user_id="U0NINE", due=date(2026, 12, 1)
    )
    assert parse("next send deck for partner by 2026-12-01").intent == SetNext(
        "send deck", role=Role.PARTNER, due=date(2026, 12, 1)
    )
    # "by" followed by words is part of the text, not a date.
    assert parse("next get it reviewed by legal").intent == SetNext("get it reviewed by legal")
    # A lone role word is the text itself, not an owner; so is a role without `for`.
    assert parse("next partner").intent == SetNext("partner")
    assert parse("next follow up with partner").intent == SetNext("follow up with partner")
    assert parse("next ask for budget").intent == SetNext("ask for budget")


@pytest.mark.parametrize(
    ("typed", "due"),
    [
        ("by today", date(2026, 11, 24)),
        ("by tomorrow", date(2026, 11, 25)),
        ("by friday", date(2026, 11, 27)),  # today is Tuesday 2026-11-24
        ("by Tue", date(2026, 12, 1)),  # the next Tuesday, never today
        ("in 3 days", date(2026, 11, 27)),
        ("by in 2 weeks", date(2026, 12, 8)),
        ("by Dec 1", date(2026, 12, 1)),
        ("by 1 December", date(2026, 12, 1)),
        ("by Nov 1", date(2027, 11, 1)),  # this year's has passed
        ("by 2026-12-01", date(2026, 12, 1)),
    ],
)
def test_due_dates_as_people_type_them(typed: str, due: date) -> None:
    assert parse(f"next send the deck for seller {typed}").intent == SetNext(
        "send the deck", role=Role.SELLER, due=due
    )


@pytest.mark.parametrize(
    "typed",
    ["by tomorow", "by 12/01", "by Dec 32", "by in 0 days", "by 2026-13-01", "by next week"],
)
def test_unreadable_due_dates_are_refused_with_the_forms(typed: str) -> None:
    with pytest.raises(BadInput, match="in 3 days.*Dec 1"):
        parse(f"next send the deck {typed}")


def test_a_due_date_in_the_past_is_refused() -> None:
    with pytest.raises(BadInput, match="in the past"):
        parse("next send the deck by 2026-11-01")


def test_unknown_command_lists_commands() -> None:
    with pytest.raises(BadInput, match="Commands: help, new, trio, stage, next, done, card, list"):
        parse("<@U0SAM> hello")


def test_over_long_input_is_refused() -> None:
    with pytest.raises(BadInput, match="limit is 3000"):
        parse("next " + "x" * 4000)
