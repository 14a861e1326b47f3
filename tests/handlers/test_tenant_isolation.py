"""Every listener, handed another company's ids, reads and changes nothing of that company.

The bot serves our workspace (T0URS). The partner company (TPARTNER) has its own deals in the
same database — PTM-1 and PTM-2 of its own, a room of its own and the shared channel bound to
its deal too. Commands, mentions, card clicks and modal submissions then name the partner's
deal ids (in block ids, button values, sealed modal metadata), its deal keys and its channels.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.domain.model import Actor, Source, Stage, TrioMember
from bot.domain.rules import set_trio
from store import UowFactory
from tests.support.cards import card_text
from tests.support.databases import tenant_uows
from tests.support.harness import RunningBot

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def their_deal(theirs: UowFactory, name: str, room: str) -> int:
    async with theirs() as uow:
        deal_id = await uow.deals.add(
            name=name,
            account="",
            amount=None,
            currency="USD",
            close_date=None,
            stage=Stage.QUALIFY,
            actor=Actor("UPARTNER", "TPARTNER"),
            now=NOW,
        )
        await uow.bindings.bind(room, deal_id, actor="UPARTNER", now=NOW)
        deal = await uow.deals.get(deal_id)
        assert deal is not None
        trio = {
            role: TrioMember(role, user, "TPARTNER")
            for role, user in zip(deal_roles(), ("UPSELL", "UPALLY", "USELLER"), strict=True)
        }
        await uow.deals.apply(
            deal, set_trio(deal, trio), actor=Actor("UPARTNER"), source=Source.COMMAND, now=NOW
        )
        await uow.copies.add(
            deal_id=deal_id, channel_id=room, ts=f"9.{deal_id}", version=2, actor="U", now=NOW
        )
        await uow.commit()
    return deal_id


def deal_roles() -> list[Any]:
    from bot.domain.model import Role

    return [Role.SELLER, Role.ALLIANCE, Role.PARTNER]


async def snapshot(bot: RunningBot, tenant: int) -> list[Any]:
    return [
        await bot.rows(
            "SELECT id, key, name, stage, status, version, updated_by FROM deals "
            "WHERE tenant_id = :t ORDER BY id",
            t=tenant,
        ),
        await bot.rows("SELECT count(*) FROM deal_events WHERE tenant_id = :t", t=tenant),
        await bot.rows(
            "SELECT deal_id, text, status FROM next_steps WHERE tenant_id = :t", t=tenant
        ),
        await bot.rows("SELECT count(*) FROM outcomes WHERE tenant_id = :t", t=tenant),
        await bot.rows(
            "SELECT channel_id, ts, rendered_version FROM card_copies WHERE tenant_id = :t",
            t=tenant,
        ),
        await bot.rows("SELECT count(*) FROM crm_outbox WHERE tenant_id = :t", t=tenant),
    ]


def retarget(value: Any, ours: int, theirs: int) -> Any:
    """The same controls, naming their deal id where ours was."""
    text = re.sub(rf'(\\?"d\\?": ?){ours}(?=[,}}])', rf"\g<1>{theirs}", json.dumps(value))
    return json.loads(text)


def controls(card: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Every (action_id, option) a person can use on a card."""
    found = []
    for block in card["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            options = [o["value"] for o in element.get("options", [])] or [None]
            found += [(element["action_id"], option) for option in options]
    return found


async def test_another_companys_ids_reach_nothing_of_theirs(bot: RunningBot) -> None:
    bot.fake.users.update({"UALLY": "T0URS", "UPARTNER": "TPARTNER", "USELLER": "T0URS"})
    theirs = await tenant_uows(bot.runtime.engine, "TPARTNER")
    their_tenant = theirs.tenant_id
    t1 = await their_deal(theirs, "Their first", "CSHARED")
    t2 = await their_deal(theirs, "Their second", "CTHEIRS")
    # Our own deal, in our room, with a card.
    await bot.slack.command("new Our deal", channel="CROOM")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>", channel="CROOM")
    [(_, ts)] = [(c, t) for c, t in bot.posted_cards() if c == "CROOM"]
    ours = bot.runtime.deps.ctx.uow
    async with ours.reads() as uow:
        our_id = await uow.deals.id_of(1)
    assert our_id is not None and our_id not in (t1, t2)
    before = await snapshot(bot, their_tenant)

    # Commands naming their keys and in their rooms.
    _, body = await bot.slack.command("stage PTM-2 propose", channel="CROOM")
    assert "There is no deal PTM-2" in str(body)
    for text in ("stage propose", "next call them by 2026-12-01", "done", "won", "log met"):
        await bot.slack.command(text, channel="CTHEIRS")
    _, listed = await bot.slack.command("list", channel="CROOM")
    assert "Their" not in str(listed)
    # A mention in their room, and in the shared channel where their deal is bound too.
    for n, room in enumerate(("CTHEIRS", "CSHARED")):
        await bot.slack.event(
            {
                "type": "app_mention",
                "channel": room,
                "user": "USELLER",
                "text": "<@UPTMBOT> stage: propose",
                "ts": f"1800000000.00000{n}",
                "user_team": "T0URS",
            },
            event_id=f"EvIso{n}",
        )

    # Every control of our card, pointed at their deal.
    card = bot.card("CROOM", ts)
    for deal in (t1, t2):
        forged = retarget(card, our_id, deal)
        assert forged != card
        for action_id, option in controls(card):
            status, _ = await bot.slack.click(
                forged, action_id, channel="CROOM", ts=ts, option=option
            )
            assert status == 200
    # Modals opened for our deal, their metadata re-sealed to name their deal.
    seal = bot.runtime.deps.slack.seal
    for action_id, option in (("ptm_card_step_set", None), ("ptm_card_more", "edit")):
        await bot.slack.click(card, action_id, channel="CROOM", ts=ts, option=option)
        view = bot.fake.of("views.open")[-1]["view"]
        raw = seal.unseal("USELLER", view["private_metadata"])
        assert raw is not None
        forged_raw = json.dumps(retarget(json.loads(raw), our_id, t1), separators=(",", ":"))
        forged_view = {**view, "private_metadata": seal.seal("USELLER", forged_raw)}
        values = {"step_text": "call them"} if "step" in action_id else {"name": "Stolen"}
        status, answer = await bot.slack.submit(forged_view, values)
        assert status == 200 and "Stolen" not in str(answer)

    assert await snapshot(bot, their_tenant) == before
    # Their copies were never touched with our token; ours is intact.
    touched = {(u["channel"], u["ts"]) for u in bot.fake.of("chat.update")}
    assert not touched & {("CSHARED", f"9.{t1}"), ("CTHEIRS", f"9.{t2}")}
    assert "Our deal" in card_text(bot.card("CROOM", ts))
