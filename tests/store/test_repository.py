"""The store on a real database (SQLite always, PostgreSQL when PTM_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.domain.model import Actor, Mutation, Role, Source, Stage, StepChange, TrioMember
from bot.domain.rules import change_stage
from store import UnitOfWork, create_schema, make_engine
from tests.support.databases import tenant_uows

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
ACTOR = Actor("U0SELLER", "T0URS")


@pytest.fixture
async def uow(db_url: str) -> AsyncIterator[UnitOfWork]:
    engine = make_engine(db_url)
    await create_schema(engine)
    await create_schema(engine)  # idempotent: an existing schema is left alone
    yield (await tenant_uows(engine))()
    await engine.dispose()


async def new_deal(uow: UnitOfWork, name: str = "Acme") -> int:
    async with uow:
        deal_id = await uow.deals.add(
            name=name,
            account="Acme Corp",
            amount=Decimal("1200.50"),
            currency="EUR",
            close_date=date(2027, 1, 31),
            stage=Stage.QUALIFY,
            actor=ACTOR,
            now=NOW,
        )
        await uow.commit()
    return deal_id


async def test_add_and_read_back_with_utc_times(uow: UnitOfWork) -> None:
    deal_id = await new_deal(uow)
    async with uow:
        deal = await uow.deals.get(deal_id)
    assert deal is not None
    assert (deal.key, deal.version, deal.amount, deal.currency) == (
        f"PTM-{deal_id}",
        1,
        Decimal("1200.50"),
        "EUR",
    )
    assert deal.updated_at == NOW and deal.updated_at.tzinfo is not None
    assert deal.close_date == date(2027, 1, 31)


async def test_non_utc_times_are_stored_as_utc(uow: UnitOfWork) -> None:
    deal_id = await new_deal(uow)
    paris = datetime(2026, 11, 24, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    async with uow:
        deal = await uow.deals.get(deal_id)
        assert deal
        await uow.deals.apply(
            deal, change_stage(deal, Stage.PROPOSE), actor=ACTOR, source=Source.CLI, now=paris
        )
        await uow.commit()
    async with uow:
        deal = await uow.deals.get(deal_id)
    assert deal and deal.updated_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert deal.updated_at.utcoffset() == timedelta(0)


async def test_compare_and_swap_refuses_a_stale_version(uow: UnitOfWork) -> None:
    deal_id = await new_deal(uow)
    async with uow:
        stale = await uow.deals.get(deal_id)
    assert stale
    async with uow:
        assert await uow.deals.apply(
            stale, change_stage(stale, Stage.DISCOVER), actor=ACTOR, source=Source.COMMAND, now=NOW
        )
        await uow.commit()
    async with uow:
        ok = await uow.deals.apply(
            stale, change_stage(stale, Stage.PROPOSE), actor=ACTOR, source=Source.COMMAND, now=NOW
        )
        await uow.commit()
    assert ok is None
    async with uow:
        deal = await uow.deals.get(deal_id)
        events = await uow.deals.events_since(deal_id, 0)
    assert deal and (deal.stage, deal.version) == (Stage.DISCOVER, 2)
    assert [(e.version, e.changes) for e in events] == [
        (1, {"created": [None, "Acme"]}),
        (2, {"stage": ["Qualify", "Discover"]}),
    ]


async def test_leaving_without_commit_rolls_back(uow: UnitOfWork) -> None:
    deal_id = await new_deal(uow)
    async with uow:
        deal = await uow.deals.get(deal_id)
        assert deal
        await uow.deals.apply(
            deal, change_stage(deal, Stage.PROPOSE), actor=ACTOR, source=Source.COMMAND, now=NOW
        )
    async with uow:
        again = await uow.deals.get(deal_id)
    assert again and again.version == 1


async def test_trio_and_steps(uow: UnitOfWork) -> None:
    deal_id = await new_deal(uow)
    partner = TrioMember(Role.PARTNER, "U0PAT", team_id="TPARTNER", is_external=True)
    async with uow:
        deal = await uow.deals.get(deal_id)
        assert deal
        step = StepChange("set", text="call", owner_role=Role.PARTNER, owner_user="U0PAT")
        await uow.deals.apply(
            deal,
            Mutation(trio=(partner,), step=step, audit={"x": (1, 2)}),
            actor=ACTOR,
            source=Source.COMMAND,
            now=NOW,
        )
        await uow.commit()
    async with uow:
        deal = await uow.deals.get(deal_id)
        listed = await uow.deals.list_for_user("U0PAT")
    assert deal and deal.trio == (partner,) and deal.next_step and deal.next_step.text == "call"
    assert [d.id for d in listed] == [deal_id] and listed[0].next_step == deal.next_step


async def test_database_allows_one_open_step_per_deal(uow: UnitOfWork) -> None:
    from store.models import NextStepRow

    deal_id = await new_deal(uow)
    async with uow:
        session = uow.deals.session
        for text in ("a", "b"):
            session.add(NextStepRow(deal_id=deal_id, text=text, set_by="U", set_at=NOW))
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_deal_numbers_are_never_reused(uow: UnitOfWork) -> None:
    first = await new_deal(uow, "one")
    async with uow:
        session = uow.deals.session
        await session.execute(sa.text("DELETE FROM deal_events"))
        await session.execute(sa.text("DELETE FROM deals"))
        await uow.commit()
    second = await new_deal(uow, "two")
    assert second > first


async def test_a_message_is_applied_once_and_a_lapsed_lease_is_taken_over(uow: UnitOfWork) -> None:
    later = NOW + timedelta(minutes=1)
    async with uow:
        await uow.events.receive("Ev1", "{}", NOW)
        await uow.events.receive("Ev1", "{}", NOW)  # a re-delivery: still one message
        assert await uow.events.take("Ev1", "{}", now=NOW, until=later)
        await uow.commit()
    async with uow:  # another process, while the lease lives: not theirs
        assert not await uow.events.take("Ev1", "{}", now=NOW, until=later)
        assert await uow.events.stalled(now=NOW, received_before=later) == []
    async with uow:  # the holder died: the lease lapses and the message is stalled, then taken
        after = later + timedelta(seconds=1)
        assert await uow.events.stalled(now=after, received_before=after) == [("Ev1", "{}")]
        assert await uow.events.take("Ev1", "{}", now=after, until=after + timedelta(minutes=1))
        assert await uow.events.finish_pending("Ev1")
        await uow.commit()
    async with uow:
        assert not await uow.events.finish_pending("Ev1")  # applied once, never again
        long_after = later + timedelta(hours=1)
        assert not await uow.events.take("Ev1", "{}", now=long_after, until=long_after)


async def test_bindings_and_copies(uow: UnitOfWork) -> None:
    deal_id = await new_deal(uow)
    async with uow:
        await uow.bindings.bind("C1", deal_id, actor="U", now=NOW)
        await uow.copies.add(
            deal_id=deal_id, channel_id="C1", ts="1.1", version=1, actor="U", now=NOW
        )
        await uow.commit()
    async with uow:
        assert await uow.bindings.deal_for("C1") == deal_id
        assert await uow.bindings.deal_for("C2") is None
        [copy] = await uow.copies.list_for_deal(deal_id)
        await uow.copies.mark_rendered([copy.id], 5)
        await uow.copies.mark_rendered([copy.id], 3)  # never goes backwards
        await uow.commit()
    async with uow:
        [copy] = await uow.copies.list_for_deal(deal_id)
        assert copy.rendered_version == 5
        await uow.copies.remove(copy.id)
        await uow.commit()
    async with uow:
        assert await uow.copies.list_for_deal(deal_id) == []


async def test_a_stopping_process_gives_back_its_claims(uow: UnitOfWork) -> None:
    """At shutdown a process releases what it still holds, so another takes over at once."""
    from bot.services import release_claims
    from bot.services.common import Ctx

    deal_id = await new_deal(uow)
    day = NOW.date()
    lease = NOW + timedelta(minutes=5)
    async with uow:
        await uow.digests.open_runs([("U1", day), ("U2", day)], NOW)
        assert await uow.digests.claim("U1", day, owner="proc-a", now=NOW, lease_until=lease)
        assert await uow.digests.claim("U2", day, owner="proc-b", now=NOW, lease_until=lease)
        assert await uow.copies.claim_sync(deal_id, owner="proc-a", now=NOW, until=lease)
        await uow.commit()
    ctx = Ctx(
        uow=lambda: uow,
        today=lambda: day,
        now=lambda: NOW,
        admins=frozenset(),
        team_of=lambda _u: _none(),
        channel_shared=lambda _c: _none(),
        tz_of=lambda _u: _none(),
    )
    assert await release_claims(ctx, "proc-a") == 2
    async with uow:
        free = await uow.digests.runs_to_send(NOW)
        assert await uow.copies.claim_sync(deal_id, owner="proc-c", now=NOW, until=lease)
    assert free == [("U1", day)]  # proc-b's claim is its own business


async def _none() -> None:
    return None


async def test_the_deal_a_change_returns_is_the_deal_read_back(uow: UnitOfWork) -> None:
    """`apply` derives the new state instead of reading it: every kind of change it derives
    gives what a fresh read gives, to the last field (the card is drawn from it)."""
    from bot.domain.model import Attribution, ForecastCategory, Status

    deal_id = await new_deal(uow)
    seller = TrioMember(Role.SELLER, ACTOR.user_id, team_id="T0URS")
    partner = TrioMember(Role.PARTNER, "U0PAT", team_id="TPARTNER", is_external=True)
    paris = timezone(timedelta(hours=1))
    changes = [
        Mutation(trio=(seller, partner), audit={"trio": (None, 2)}),  # read back (trio)
        Mutation(fields={"stage": Stage.PROPOSE}, audit={"stage": (1, 2)}),
        Mutation(fields={"stage": "Negotiate"}, audit={"stage": (1, 2)}),  # stored value
        Mutation(
            step=StepChange("set", "call Pat", Role.PARTNER, "U0PAT", date(2027, 1, 3)),
            audit={"next_step": (None, "call Pat")},
        ),
        Mutation(step=StepChange("set", "send the deck"), audit={"next_step": (1, 2)}),
        Mutation(step=StepChange("complete"), audit={"next_step.done": (1, True)}),
        Mutation(
            fields={"internal_notes": "", "trigger_reason": "migration", "cosell": ["trigger"]},
            audit={"trigger_reason": (None, "migration")},
        ),
        Mutation(
            fields={
                "attribution": Attribution.SOURCED,
                "forecast_category": ForecastCategory.COMMIT,
                "partner": "Northwind",
                "close_date": date(2027, 2, 1),
                "currency": "USD",
                "name": "Acme renewal",
                "account": "Acme Group",
            },
            audit={"fields": (1, 2)},
        ),  # fmt: skip
        Mutation(
            fields={"status": Status.WON, "stage": Stage.CLOSED_WON, "close_reason": "champion"},
            audit={"status": (1, 2)},
        ),
        Mutation(fields={"status": Status.OPEN, "close_reason": ""}, audit={"status": (2, 1)}),
        Mutation(fields={"amount": Decimal("99")}, audit={"amount": (1, 2)}),  # read back
    ]
    for i, mutation in enumerate(changes):
        actor = ACTOR if i % 2 == 0 else Actor("U0PAT", "TPARTNER")
        at = NOW + timedelta(minutes=i)
        async with uow:
            deal = await uow.deals.get(deal_id, for_update=True)
            assert deal
            derived = await uow.deals.apply(
                deal, mutation, actor=actor, source=Source.COMMAND,
                now=at.astimezone(paris) if i == 3 else at,
            )  # fmt: skip
            await uow.commit()
        async with uow:
            read = await uow.deals.get(deal_id)
        assert derived == read, mutation
        assert derived is not None and derived.updated_at.utcoffset() == timedelta(0)
    assert read is not None and read.version == len(changes) + 1
    assert read.trio[0].last_acted_at == NOW + timedelta(minutes=len(changes) - 1)


async def test_a_lost_compare_and_swap_writes_nothing_of_the_change(uow: UnitOfWork) -> None:
    """On PostgreSQL a change's writes go as one statement (store.change_statement): when the
    deal moved on, neither its step, nor the trio's last action, nor the audit trail moves."""
    deal_id = await new_deal(uow)
    seller = TrioMember(Role.SELLER, ACTOR.user_id, team_id="T0URS")
    async with uow:
        deal = await uow.deals.get(deal_id)
        assert deal
        await uow.deals.apply(
            deal, Mutation(trio=(seller,), step=StepChange("set", "first"), audit={"t": (0, 1)}),
            actor=Actor("U0OTHER"), source=Source.COMMAND, now=NOW,
        )  # fmt: skip
        await uow.commit()
    async with uow:
        stale = await uow.deals.get(deal_id)
        assert stale
        assert await uow.deals.apply(
            stale, change_stage(stale, Stage.DISCOVER), actor=Actor("U0OTHER"),
            source=Source.COMMAND, now=NOW,
        )  # fmt: skip
        await uow.commit()
    for step in (StepChange("set", "second"), StepChange("complete")):
        async with uow:
            lost = await uow.deals.apply(
                stale, Mutation(fields={"stage": Stage.PROPOSE}, step=step, audit={"s": (1, 2)}),
                actor=ACTOR, source=Source.COMMAND, now=NOW + timedelta(hours=1),
            )  # fmt: skip
            await uow.commit()
        assert lost is None
        async with uow:
            deal = await uow.deals.get(deal_id)
            events = await uow.deals.events_since(deal_id, 0)
        assert deal and (deal.version, deal.stage) == (3, Stage.DISCOVER)
        assert deal.next_step and deal.next_step.text == "first"
        assert deal.trio[0].last_acted_at is None  # the seller's change did not get in
        assert [e.version for e in events] == [1, 2, 3]


async def test_the_digests_glance_at_a_deal_is_the_deal_read_whole(uow: UnitOfWork) -> None:
    """The digests read deals lean (`glances`): what they read of each deal is what the whole
    deal says, the trio in its order (seller, alliance manager, partner companies as they
    joined), the open step or none, whatever the deal's shape."""
    from bot.domain.digest import DealGlance

    full, bare, done = [await new_deal(uow, n) for n in ("Full", "Bare", "Done")]
    trio = (
        TrioMember(Role.PARTNER, "U0REP2", team_id="TSECOND", is_external=True),
        TrioMember(Role.ALLIANCE, "U0ALLY"),
        TrioMember(Role.SELLER, ACTOR.user_id, team_id="T0URS"),
        TrioMember(Role.PARTNER, "U0REP1", team_id="TFIRST", is_external=True),
    )
    changes = {
        full: [
            Mutation(trio=trio, audit={"trio": (None, 4)}),
            Mutation(
                step=StepChange("set", "call Pat", Role.PARTNER, "U0REP1", date(2027, 1, 3)),
                audit={"next_step": (None, "call Pat")},
            ),
        ],
        done: [
            Mutation(step=StepChange("set", "send the deck"), audit={"next_step": (None, 1)}),
            Mutation(step=StepChange("complete"), audit={"next_step.done": (1, True)}),
        ],
    }
    for deal_id, mutations in changes.items():
        for i, mutation in enumerate(mutations):
            async with uow:
                deal = await uow.deals.get(deal_id, for_update=True)
                assert deal
                await uow.deals.apply(
                    deal, mutation, actor=ACTOR, source=Source.COMMAND,
                    now=NOW + timedelta(minutes=i),
                )  # fmt: skip
                await uow.commit()
    async with uow:  # the alliance manager acted on it since (in its deal room): not quiet
        assert await uow.deals.touch_activity(full, "U0ALLY", NOW + timedelta(days=8))
        await uow.commit()
    ids = [full, bare, done]
    async with uow:
        glances = await uow.deals.glances(ids)
        whole = await uow.deals.by_ids(ids)
    assert glances == [DealGlance.of(d) for d in whole]
    assert [m.user_id for m in glances[0].trio] == ["U0SELLER", "U0ALLY", "U0REP2", "U0REP1"]
    assert glances[0].next_step is not None and glances[0].next_step.owner_user == "U0REP1"
    assert glances[1].next_step is None and glances[2].next_step is None
    assert glances[0].touched_at == NOW + timedelta(days=8)  # the trio's last action, later
    assert glances[1].touched_at == NOW  # the deal's last change (no one acted since)


async def test_a_late_budget_taker_with_an_earlier_time_refills_nothing_twice(
    uow: UnitOfWork,
) -> None:
    """The shared `chat.update` bucket (store.budget): a taker that brings an earlier time than
    the last one wrote (it read its clock before the row's lock was its own, or its process's
    clock lags) refills nothing, and does not move the bucket's time back to refill that
    interval twice."""

    async def take(want: int, at: datetime) -> int:
        async with uow:
            got = await uow.budget.take("chat.update", want, rate=1.0, burst=5, now=at)
            await uow.commit()
        return got

    assert await take(5, NOW) == 5  # the full bucket, emptied
    assert await take(5, NOW + timedelta(seconds=10)) == 5  # refilled (to its burst), emptied
    # A taker whose clock read 8 s earlier: nothing has refilled since the last taker's time.
    assert await take(5, NOW + timedelta(seconds=2)) == 0
    # One second after the last time: one token, not the 9 an earlier bucket time would give.
    assert await take(5, NOW + timedelta(seconds=11)) == 1
