"""Digest due-ness across time zones, midnight and DST, and what a digest says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.domain.digest import Event, is_due, local_day
from bot.domain.metrics import Ratio
from bot.domain.model import Deal, NextStep, Role, Stage, Status, TrioMember
from bot.views.digest import compose

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def test_due_at_the_local_hour_on_both_sides_of_midnight() -> None:
    la = "America/Los_Angeles"  # UTC-8 in November
    assert not is_due(datetime(2026, 11, 24, 15, 59, tzinfo=UTC), la, 8)
    assert is_due(datetime(2026, 11, 24, 16, 0, tzinfo=UTC), la, 8)
    # 23:30 UTC on the 24th is already the 25th in Tokyo, and 08:30 there.
    tokyo = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert local_day(tokyo, "Asia/Tokyo") == date(2026, 11, 25) and is_due(tokyo, "Asia/Tokyo", 8)
    # ...while in Los Angeles it is still the 24th.
    assert local_day(tokyo, la) == date(2026, 11, 24)


def test_dst_is_respected() -> None:
    paris = "Europe/Paris"
    # 28 March 2026: winter time, 08:00 local is 07:00 UTC.
    assert not is_due(datetime(2026, 3, 28, 6, 59, tzinfo=UTC), paris, 8)
    assert is_due(datetime(2026, 3, 28, 7, 0, tzinfo=UTC), paris, 8)
    # 29 March 2026: summer time since 02:00, 08:00 local is 06:00 UTC.
    assert is_due(datetime(2026, 3, 29, 6, 0, tzinfo=UTC), paris, 8)
    assert not is_due(datetime(2026, 3, 29, 5, 59, tzinfo=UTC), paris, 8)


def test_unknown_zone_falls_back_to_utc() -> None:
    assert is_due(datetime(2026, 11, 24, 8, 0, tzinfo=UTC), None, 8)
    assert is_due(datetime(2026, 11, 24, 8, 0, tzinfo=UTC), "Mars/Olympus", 8)


def deal(
    id_: int,
    *,
    step: NextStep | None = None,
    updated: datetime = NOW,
    seller_acted: datetime | None = None,
    status: Status = Status.OPEN,
) -> Deal:
    return Deal(
        id=id_,
        key=f"PTM-{id_}",
        name=f"Deal {id_}",
        account="",
        amount=None,
        currency="USD",
        close_date=None,
        stage=Stage.PROPOSE,
        status=status,
        attribution=None,
        partner=None,
        cosell=frozenset(),
        version=2,
        created_by="US",
        updated_by="US",
        updated_at=updated,
        trio=(
            TrioMember(Role.SELLER, f"US{id_ % 2}", last_acted_at=seller_acted),
            TrioMember(Role.ALLIANCE, "UA"),
            TrioMember(Role.PARTNER, "UP", is_external=True),
        ),
        next_step=step,
    )


def test_compose_orders_moves_and_collects_everything() -> None:
    today = date(2026, 11, 24)
    late = NextStep(1, "call CFO", Role.ALLIANCE, "UA", date(2026, 11, 20), "US")
    soon = NextStep(2, "send deck", Role.ALLIANCE, "UA", date(2026, 11, 30), "US")
    theirs = NextStep(3, "security review", Role.PARTNER, "UP", None, "US")
    deals = [
        deal(2, step=soon),
        deal(1, step=late),
        deal(3, step=theirs),
        deal(4, updated=NOW - timedelta(days=8)),
        deal(5, status=Status.WON, step=late),
    ]
    events = [
        Event(3, "UP", ("stage",), NOW - timedelta(hours=2)),
        Event(3, "UA", ("next_step",), NOW - timedelta(hours=1)),  # their own: not news
        Event(2, "US0", ("amount",), NOW - timedelta(days=3)),  # before the last digest
    ]
    by_deal: dict[int, list[Event]] = {}
    for event in events:
        by_deal.setdefault(event.deal_id, []).append(event)
    view = compose(
        "UA",
        deals,
        by_deal,
        now=NOW,
        day=today,
        since=NOW - timedelta(days=1),
        activation=Ratio(0, 2),
    )
    assert [s.key for s in view.mine] == ["PTM-1", "PTM-2"] and view.mine[0].overdue
    assert [(s.key, s.owner_user) for s in view.waiting] == [("PTM-3", "UP")]
    assert [(c.key, c.actor) for c in view.changes] == [("PTM-3", "UP")]
    assert view.stale == (("PTM-4", "Deal 4"),)
    assert view.activation == Ratio(0, 2) and not view.is_empty


def test_nothing_to_say_is_empty_and_sellers_get_no_activation() -> None:
    day = date(2026, 11, 24)
    view = compose("US1", [deal(1)], {}, now=NOW, day=day, since=NOW, activation=Ratio(1, 1))
    assert view.is_empty and view.activation is None
