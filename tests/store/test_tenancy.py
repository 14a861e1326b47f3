"""Tenants kept apart by the store itself: a unit of work opened for one company sees, changes
and deletes nothing of another's, whatever the query forgets; deal numbers are per company."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.model import Actor, Source, Stage
from bot.domain.rules import change_stage
from store import UowFactory, create_schema, make_engine
from store.models import CardCopyRow, DealRow, UserPrefRow
from store.tenancy import UnscopedStatement
from tests.support.databases import tenant_uows

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    await create_schema(engine)
    yield engine
    await engine.dispose()


async def new_deal(uows: UowFactory, name: str, channel: str) -> int:
    async with uows() as uow:
        deal_id = await uow.deals.add(
            name=name,
            account="",
            amount=None,
            currency="USD",
            close_date=None,
            stage=Stage.QUALIFY,
            actor=Actor("U1", "T"),
            now=NOW,
        )
        await uow.bindings.bind(channel, deal_id, actor="U1", now=NOW)
        await uow.copies.add(
            deal_id=deal_id, channel_id=channel, ts="1.1", version=1, actor="U1", now=NOW
        )
        await uow.digests.put_pref("USHARED", tz="Europe/Paris")
        await uow.commit()
    return deal_id


async def test_two_companies_each_have_their_own_numbers_rooms_and_people(
    engine: AsyncEngine,
) -> None:
    ours, theirs = await tenant_uows(engine, "T0URS"), await tenant_uows(engine, "TPARTNER")
    # The same Slack Connect channel (one id in both workspaces) is a deal room for each.
    a1 = await new_deal(ours, "Ours one", "CSHARED")
    b1 = await new_deal(theirs, "Theirs one", "CSHARED")
    b2 = await new_deal(theirs, "Theirs two", "CTHEIRS")
    async with ours.reads() as uow:
        mine = await uow.deals.get(a1)
        assert mine is not None and mine.key == "PTM-1"
        assert await uow.deals.get(b1) is None and await uow.deals.get(b2) is None
        assert await uow.deals.id_of(1) == a1 and await uow.deals.id_of(2) is None
        assert await uow.bindings.deal_for("CSHARED") == a1
        assert await uow.bindings.deal_for("CTHEIRS") is None
        assert [c.deal_id for c in await uow.copies.list_for_deal(b1)] == []
        assert [d.id for d in await uow.deals.list_open_for_members(["U1"])] == []
        assert [d.id for d in await uow.deals.list_for_user("U1")] == [a1]
    async with theirs.reads() as uow:
        assert [(await uow.deals.get(i)).key for i in (b1, b2)] == ["PTM-1", "PTM-2"]  # type: ignore[union-attr]


async def test_changes_and_deletes_reach_only_the_own_company(engine: AsyncEngine) -> None:
    ours, theirs = await tenant_uows(engine, "T0URS"), await tenant_uows(engine, "TPARTNER")
    a1 = await new_deal(ours, "Ours", "CSHARED")
    b1 = await new_deal(theirs, "Theirs", "CSHARED")
    async with ours() as uow:
        # A query that names no tenant at all — the mechanism adds it.
        await uow.deals.session.execute(sa.update(DealRow).values(name="renamed"))
        await uow.deals.session.execute(sa.delete(CardCopyRow))
        await uow.deals.session.execute(sa.update(UserPrefRow).values(tz="Asia/Tokyo"))
        assert await uow.deals.get(b1) is None
        await uow.commit()
    async with theirs.reads() as uow:
        deal = await uow.deals.get(b1)
        assert deal is not None and deal.name == "Theirs"
        assert len(await uow.copies.list_for_deal(b1)) == 1
        assert (await uow.digests.prefs(["USHARED"]))["USHARED"].tz == "Europe/Paris"
    async with ours.reads() as uow:
        assert (await uow.deals.get(a1)).name == "renamed"  # type: ignore[union-attr]
    # A change to another company's deal finds nothing to change.
    async with ours() as uow:
        assert await uow.deals.get(b1, for_update=True) is None
        # The change's and the card pass's reads (run on the connection, scoped by rows_of).
        assert await uow.deals.lock_for_change(b1) is None
        assert await uow.deals.get_with_home_viewers(b1) is None
    async with theirs() as uow:
        assert await uow.deals.lock_for_change(b1) is not None
    async with theirs.reads() as uow:
        theirs_deal = await uow.deals.get(b1)
    assert theirs_deal is not None
    async with ours() as uow:
        applied = await uow.deals.apply(
            theirs_deal,
            change_stage(theirs_deal, Stage.PROPOSE),
            actor=Actor("U1", "T0URS", True),
            source=Source.COMMAND,
            now=NOW,
        )
        assert not applied
        await uow.commit()
    async with theirs.reads() as uow:
        assert (await uow.deals.get(b1)).stage is Stage.QUALIFY  # type: ignore[union-attr]


async def test_statements_the_store_cannot_scope_are_refused(engine: AsyncEngine) -> None:
    ours = await tenant_uows(engine, "T0URS")
    await new_deal(ours, "Ours", "C1")
    deals = DealRow.__table__  # type: ignore[attr-defined]
    async with ours.reads() as uow:
        with pytest.raises(UnscopedStatement, match="Core statement"):
            await uow.deals.session.execute(sa.select(deals.c.name))
    async with ours.unscoped().reads() as uow:  # opened for no tenant
        with pytest.raises(UnscopedStatement, match="no tenant"):
            await uow.deals.session.execute(sa.select(DealRow.name))
        assert len(await uow.tenants.ids()) == 1  # the tenants themselves are readable
    async with ours.unscoped()() as uow:
        with pytest.raises(sa.exc.StatementError) as raised:
            await uow.digests.put_pref("U1", tz="UTC")
        assert isinstance(raised.value.orig, UnscopedStatement)


async def test_deal_numbers_are_taken_once_per_company_even_when_concurrent(
    engine: AsyncEngine,
) -> None:
    import asyncio

    ours, theirs = await tenant_uows(engine, "T0URS"), await tenant_uows(engine, "TPARTNER")
    made = await asyncio.gather(
        *(new_deal(ours if i % 2 else theirs, f"D{i}", f"C{i}") for i in range(10))
    )
    for uows in (ours, theirs):
        async with uows.reads() as uow:
            keys = [d.key for d in [await uow.deals.get(i) for i in made] if d is not None]
        assert sorted(keys, key=lambda k: int(k[4:])) == [f"PTM-{n}" for n in range(1, 6)]


async def test_crm_links_and_aws_submissions_are_each_companys_own(engine: AsyncEngine) -> None:
    """The same CRM record linked, and a deal submitted to AWS, by two companies: each sees
    only its own, asked by record id, deal id or invitation id."""
    from store.crm import CrmLink

    ours, theirs = await tenant_uows(engine, "T0URS"), await tenant_uows(engine, "TPARTNER")
    a1 = await new_deal(ours, "Ours", "C1")
    b1 = await new_deal(theirs, "Theirs", "C2")
    for uows, deal_id in ((ours, a1), (theirs, b1)):
        async with uows() as uow:
            link = CrmLink(deal_id, "ours", "", "salesforce", "006000000000001AAA", NOW)
            await uow.crm.put(link, by="U1", now=NOW)
            await uow.crm.set_health("ours", now=NOW, needs_attention=uows is theirs)
            await uow.cosell.put(deal_id, NOW, form={}, client_token=f"t{deal_id}", step="queued")
            await uow.invitations.add(NOW, invitation_id="engi-1", client_token=f"i{deal_id}")
            await uow.commit()
    async with ours.reads() as uow:
        assert [
            ln.deal_id for ln in await uow.crm.by_records("salesforce", ["006000000000001AAA"])
        ] == [a1]
        assert await uow.crm.deal_of_record("ours", "salesforce", "006000000000001AAA") == a1
        assert await uow.crm.of_deal(b1) == []
        assert not (await uow.crm.health())["ours"].needs_attention
        assert await uow.cosell.of_deal(b1) is None
        invitation = await uow.invitations.get("engi-1")
        assert invitation is not None and invitation.client_token == f"i{a1}"
    async with ours() as uow:
        await uow.invitations.update("engi-1", status="accepted")  # ours only
        await uow.commit()
    async with theirs.reads() as uow:
        assert (await uow.invitations.get("engi-1")).status == "pending"  # type: ignore[union-attr]
        assert (await uow.cosell.of_deal(b1)).client_token == f"t{b1}"  # type: ignore[union-attr]


async def test_this_rounds_reads_and_budget_are_each_companys_own(engine: AsyncEngine) -> None:
    """The card pass's combined reads (copies with their channels; outcome states with write-backs
    and connector health), the digest's reads by deal ids, the partnership candidates and the
    Slack budget: each company's own, even when handed another company's ids."""
    ours, theirs = await tenant_uows(engine, "T0URS"), await tenant_uows(engine, "TPARTNER")
    a1 = await new_deal(ours, "Ours", "CSAME")
    b1 = await new_deal(theirs, "Theirs", "CSAME")  # the same channel id in both workspaces
    async with theirs() as uow:
        await uow.channels.put("CSAME", True, NOW)
        await uow.crm.set_health("ours", now=NOW, needs_attention=True)
        await uow.budget.take("chat.update", 5, rate=1.0, burst=5, now=NOW)
        await uow.commit()
    async with ours() as uow:
        copies, known = await uow.copies.list_with_channels(a1)
        assert [c.deal_id for c in copies] == [a1] and known == {}  # their channel row unseen
        assert await uow.copies.list_with_channels(b1) == ([], {})
        assert await uow.outbox.latest_states([a1, b1]) == {}  # their connector's trouble unseen
        assert await uow.deals.by_ids([a1, b1]) and [
            d.id for d in await uow.deals.by_ids([a1, b1])
        ] == [a1]
        assert [g.id for g in await uow.deals.glances([a1, b1])] == [a1]
        assert await uow.deals.open_ids_for_members(["U1"]) == [a1]
        assert await uow.digests.events_since([b1], NOW.replace(year=2000)) == []
        assert await uow.partnerships.teams_we_work_with() == []
        # Their bucket is empty; ours is full.
        assert await uow.budget.take("chat.update", 3, rate=1.0, burst=5, now=NOW) == 3
        await uow.commit()
