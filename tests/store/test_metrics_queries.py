"""The metrics facts come from real writes (changes, syncs, deal-room messages, outcomes) on a
real database, in a fixed number of statements, and close times are stamped by the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event

from bot.domain import metrics
from bot.domain.metrics import Ratio
from bot.domain.model import Actor, Role, Source, Stage, TrioMember
from bot.domain.periods import Period
from bot.domain.rules import (
    attach_partner,
    change_stage,
    close_deal,
    edit_deal,
    reopen_deal,
    set_trio,
)
from store import UnitOfWork, create_schema, make_engine
from store.models import OutcomeRow
from tests.support.databases import tenant_uows

SELLER, SELLER2, ALLY, PARTNER = (
    Actor("US", "T0URS", True),
    Actor("US2", "T0URS", True),
    Actor("UA", "T0URS", True),
    Actor("UP", "TPART"),
)
PERIOD = Period(date(2026, 6, 1), date(2026, 6, 30))
Q2 = Period(date(2026, 4, 1), date(2026, 6, 30))


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
async def setup(db_url: str) -> AsyncIterator[tuple[UnitOfWork, list[str]]]:
    engine = make_engine(db_url)
    await create_schema(engine)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    uows = await tenant_uows(engine)
    statements.clear()
    yield uows(), statements
    await engine.dispose()


async def new_deal(
    uow: UnitOfWork, name: str, *, by: Actor, on: datetime, seller: Actor | None
) -> int:
    async with uow:
        deal_id = await uow.deals.add(
            name=name,
            account="",
            amount=Decimal("10"),
            currency="USD",
            close_date=None,
            stage=Stage.QUALIFY,
            actor=by,
            now=on,
        )
        await uow.commit()
    if seller is not None:
        trio = {Role.SELLER: TrioMember(Role.SELLER, seller.user_id, "T0URS")}
        trio[Role.ALLIANCE] = TrioMember(Role.ALLIANCE, ALLY.user_id, "T0URS")
        trio[Role.PARTNER] = TrioMember(Role.PARTNER, PARTNER.user_id, "TPART", True)
        await change(uow, deal_id, lambda d: set_trio(d, trio), by=by, on=on)
    return deal_id


async def change(uow: UnitOfWork, deal_id: int, plan, *, by: Actor, on: datetime) -> None:  # type: ignore[no-untyped-def]
    async with uow:
        deal = await uow.deals.get(deal_id)
        assert deal is not None
        assert await uow.deals.apply(deal, plan(deal), actor=by, source=Source.COMMAND, now=on)
        await uow.commit()


async def message(uow: UnitOfWork, deal_id: int, who: Actor, on: datetime) -> None:
    async with uow:
        await uow.deals.note_room_message(deal_id, who.user_id, on)
        await uow.commit()


async def test_facts_from_real_writes(setup: tuple[UnitOfWork, list[str]]) -> None:
    uow, statements = setup
    # A: the seller acts in June; the alliance manager closes it won on June 25 at 09:00.
    a = await new_deal(uow, "Alpha", by=ALLY, on=at(5, 1), seller=SELLER)
    await change(uow, a, lambda d: change_stage(d, Stage.DISCOVER), by=SELLER, on=at(6, 10))
    await message(uow, a, SELLER, at(6, 20, 23, 30))
    await message(uow, a, SELLER, at(6, 25, 8))
    await message(uow, a, SELLER, at(6, 25, 10))  # after the close, same day
    await message(uow, a, PARTNER, at(6, 26))  # not the seller
    await message(uow, a, Actor("UOUTSIDER"), at(6, 26))  # not in the trio: not kept
    await change(uow, a, lambda d: close_deal(d, won=True), by=ALLY, on=at(6, 25, 9))
    # B: another seller, who only syncs, open.
    b = await new_deal(uow, "Beta", by=ALLY, on=at(5, 1), seller=SELLER2)
    async with uow:
        deal = await uow.deals.get(b)
        assert deal
        await uow.deals.record_sync(deal, SELLER2, deal.version, at(6, 28), source=Source.BUTTON)
        await uow.commit()
    # C: trigger, partner and an outcome; active in Q2.
    c = await new_deal(uow, "Gamma", by=ALLY, on=at(4, 2), seller=SELLER)
    await change(
        uow,
        c,
        lambda d: edit_deal(d, {"trigger_reason": "needs EU hosting"}, actor=ALLY),
        by=ALLY,
        on=at(4, 3),
    )
    await change(uow, c, lambda d: attach_partner(d, "Northwind"), by=ALLY, on=at(4, 4))
    async with uow:
        uow.metrics.session.add(
            OutcomeRow(deal_id=c, text="joint call", logged_by="UA", logged_at=at(5, 15))
        )
        await uow.commit()
    # D: lost in March, before the period and the quarter. E: no trio, created by UX.
    d = await new_deal(uow, "Delta", by=ALLY, on=at(1, 5), seller=SELLER)
    await change(uow, d, lambda x: close_deal(x, won=False, reason="budget"), by=ALLY, on=at(3, 1))
    e = await new_deal(uow, "Epsilon", by=Actor("UX"), on=at(6, 1), seller=None)

    statements.clear()
    async with uow:
        facts = await uow.metrics.facts(
            scope_user=None, period=PERIOD, horizon=metrics.activity_horizon(PERIOD), quarter=Q2
        )
    # A fixed number however many deals: deals, close times, activity, the quarter's, and the
    # partner companies on the deals.
    assert [s.split()[0] for s in statements] == ["BEGIN"] * ("BEGIN" in statements) + [
        "SELECT"
    ] * 7
    by_id = {f.id: f for f in facts.deals}
    assert set(by_id) == {a, b, c, e}  # D closed before anything measured
    alpha = by_id[a]
    assert alpha.closed_at == at(6, 25, 9) and alpha.seller == "US"
    # The seller's last action before the close is the 08:00 message, not the 10:00 one, and
    # not the alliance manager's closing change.
    assert alpha.seller_last_before_close == at(6, 25, 8)
    assert facts.activity[a] == {date(2026, 6, 10), date(2026, 6, 20), date(2026, 6, 25)}
    assert facts.activity[b] == {date(2026, 6, 28)}
    assert by_id[c].has_trigger and by_id[c].partner == "Northwind"
    assert by_id[c].first_outcome_at == at(5, 15)
    assert facts.active_in_quarter == {c}
    assert by_id[e].seller is None

    report = metrics.measure(
        facts.deals,
        facts.activity,
        facts.active_in_quarter,
        period=PERIOD,
        quarter=Q2,
        scope="all deals",
    )
    # Open at June 30: B (US2, synced June 28), C (US, last acted in April) -> 1 of 2.
    assert report.activation == Ratio(1, 2)
    assert report.win.activated == Ratio(1, 1)
    assert report.operator.deals == ((f"PTM-{c}", "Gamma"),)


async def test_scope_is_the_persons_deals(setup: tuple[UnitOfWork, list[str]]) -> None:
    uow, _ = setup
    mine = await new_deal(uow, "Mine", by=ALLY, on=at(6, 1), seller=SELLER2)
    await new_deal(uow, "Theirs", by=ALLY, on=at(6, 1), seller=SELLER)
    created = await new_deal(uow, "Created", by=Actor("US2"), on=at(6, 2), seller=None)
    async with uow:
        facts = await uow.metrics.facts(
            scope_user="US2", period=PERIOD, horizon=metrics.activity_horizon(PERIOD), quarter=Q2
        )
    assert {f.id for f in facts.deals} == {mine, created}


async def test_reopening_clears_the_close(setup: tuple[UnitOfWork, list[str]]) -> None:
    uow, _ = setup
    deal_id = await new_deal(uow, "Back", by=ALLY, on=at(6, 1), seller=SELLER)
    await change(
        uow, deal_id, lambda d: close_deal(d, won=False, reason="no budget"), by=ALLY, on=at(6, 2)
    )
    async with uow:
        deal = await uow.deals.get(deal_id)
    assert deal and deal.close_reason == "no budget"
    await change(uow, deal_id, lambda d: reopen_deal(d, Stage.NEGOTIATE), by=ALLY, on=at(6, 3))
    async with uow:
        deal = await uow.deals.get(deal_id)
        facts = await uow.metrics.facts(
            scope_user=None, period=PERIOD, horizon=metrics.activity_horizon(PERIOD), quarter=Q2
        )
    assert deal and deal.close_reason == "" and deal.status.value == "open"
    [fact] = facts.deals
    assert fact.closed_at is None and fact.open_on(date(2026, 6, 30))


async def test_many_peoples_activation_in_four_statements_equals_each_ones_metrics(
    setup: tuple[UnitOfWork, list[str]],
) -> None:
    """The digest asks for many alliance managers at once; each figure must be the one
    `facts(scope_user=...)` — what `/ptm metrics` reads — gives that person."""
    uow, statements = setup
    a = await new_deal(uow, "Alpha", by=ALLY, on=at(5, 1), seller=SELLER)
    await change(uow, a, lambda d: change_stage(d, Stage.DISCOVER), by=SELLER, on=at(6, 10))
    b = await new_deal(uow, "Beta", by=ALLY, on=at(5, 1), seller=SELLER2)
    await message(uow, b, SELLER2, at(5, 20))  # before the window
    c = await new_deal(uow, "Gamma", by=Actor("UX"), on=at(6, 1), seller=SELLER2)
    await message(uow, c, SELLER2, at(6, 29, 23, 59))
    d = await new_deal(uow, "Delta", by=ALLY, on=at(5, 2), seller=SELLER)
    await change(uow, d, lambda x: close_deal(x, won=True), by=ALLY, on=at(6, 2))
    people = [ALLY.user_id, SELLER.user_id, SELLER2.user_id, "UX", "UNOBODY"]
    today = date(2026, 6, 30)
    horizon = metrics.activity_horizon(Period(today, today))

    statements.clear()
    async with uow:
        many = await uow.metrics.activation_facts(people, horizon)
    assert [s.split()[0] for s in statements] == ["BEGIN"] * ("BEGIN" in statements) + [
        "SELECT"
    ] * 4
    assert many.scopes[ALLY.user_id] == {a, b, c}
    for person in people:
        async with uow:
            one = await uow.metrics.facts(
                scope_user=person, period=PERIOD, horizon=horizon, quarter=Q2
            )
        alone = metrics.seller_activation(one.deals, one.activity, as_of=today)
        together = metrics.seller_activation(
            [many.deals[i] for i in many.scopes.get(person, ())], many.activity, as_of=today
        )
        assert together == alone, person
    assert metrics.seller_activation(
        [many.deals[i] for i in many.scopes[ALLY.user_id]], many.activity, as_of=today
    ) == Ratio(2, 2)
