"""`ptm demo` as a newcomer meets it: the seeded workspace, the demo's Slack answering PTM as
Slack does (refusals included), and what each person may see and do; driven through the page's
own endpoints, against PTM unchanged."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.demo.run import Demo, start_demo
from bot.demo.world import BOT_USER
from tests.support.cli import PTM


class Page:
    """The page's calls: the JSON it reads and the acts it posts."""

    def __init__(self, demo: Demo, session: aiohttp.ClientSession) -> None:
        self.demo = demo
        self.url = demo.url.rstrip("/")
        self.session = session

    async def state(self, who: str, conv: str) -> dict[str, Any]:
        async with self.session.get(f"{self.url}/sim/state", params={"as": who, "conv": conv}) as r:
            assert r.status == 200
            return await r.json()

    async def text(self, who: str, conv: str) -> str:
        """What the person reads in a conversation, markup stripped."""
        pane = (await self.state(who, conv))["pane"]
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", pane)).replace("&#x27;", "'")

    async def post(self, path: str, **body: Any) -> None:
        async with self.session.post(f"{self.url}{path}", json=body) as r:
            assert r.status == 200, await r.text()
        await self.demo.sim.settle()

    async def say(self, who: str, conv: str, text: str, **kw: Any) -> None:
        await self.post("/sim/say", **{"as": who, "conv": conv, "text": text, **kw})


def card_in(page: Page, who: str, channel: str) -> Any:
    """The deal card as posted in a channel (a message of PTM's with a header block)."""
    return next(
        m
        for m in page.demo.sim.world.visible(who, channel)
        if m.user == BOT_USER and any(b["type"] == "header" for b in m.blocks or [])
    )


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[Page]:
    demo = await start_demo(port=0, database=tmp_path / "demo.db", seed=True, env={})
    async with aiohttp.ClientSession() as session:
        yield Page(demo, session)
    await demo.stop()


async def test_seed_gives_find_digest_and_metrics_something_real(seeded: Page) -> None:
    room, sales = await seeded.text("USAM", "CROOM"), await seeded.text("USAM", "CSALES")
    assert "PTM-1 · Acme Health data platform" in room and "Stage Validate" in room
    assert "PTM-2 · Globex analytics renewal" in sales and "Stage Propose" in sales
    assert "PTM-3 · Initech cloud migration" in sales and "Won" in sales
    await seeded.say("UALEX", "CSALES", "/ptm find healthcare VP data")
    await seeded.say("UALEX", "CSALES", "/ptm metrics")
    await seeded.say("USAM", "CSALES", "/ptm digest")
    alex = await seeded.text("UALEX", "CSALES")
    assert re.search(r"1\. (Contoso Data|Northwind Cloud) — healthcare · VP · data", alex)
    assert "Seller activation : 100% — 1 of 1" in alex
    assert "Northwind Cloud (3)" in alex  # attribution per partner company
    dm = await seeded.text("USAM", "DUSAM")
    assert "Your PTM digest for" in dm and "Send the revised pricing" in dm
    assert not seeded.demo.sim.refused


async def test_ephemeral_answers_and_threads_are_their_readers_only(seeded: Page) -> None:
    await seeded.say("USAM", "CROOM", "/ptm list")
    assert "Your open deals" in await seeded.text("USAM", "CROOM")
    assert "Your open deals" not in await seeded.text("UALEX", "CROOM")
    assert "Your open deals" not in await seeded.text("UPAT", "CROOM")
    # The partner rep's mention is answered in the card's thread, for everyone.
    card = card_in(seeded, "UPAT", "CROOM")

    def thread() -> list[Any]:
        return [m for m in seeded.demo.sim.world.visible("USAM", "CROOM") if m.thread_ts == card.ts]

    before = len(thread())
    await seeded.say("UPAT", "CROOM", "@PTM synced", thread_ts=card.ts)
    mention, answer = thread()[before:]  # the rep's mention and PTM's answer, in the thread
    assert mention.user == "UPAT" and mention.text == f"<@{BOT_USER}> synced"
    assert answer.user == BOT_USER and answer.only_for is None
    pane = (await seeded.state("USAM", "CROOM"))["pane"]
    assert pane.index(f'data-thread="{card.ts}"') < pane.index(f'data-ts="{answer.ts}"')
    assert "Partner: @Pat Quinn (partner org) · ✅ synced" in await seeded.text("USAM", "CROOM")


async def test_the_partner_rep_gets_what_slack_gives_another_company(seeded: Page) -> None:
    state = await seeded.state("UPAT", "home")
    assert [c["id"] for c in state["conversations"]] == ["CROOM"]  # no DM, no App Home
    assert state["conversation"] == "CROOM"
    await seeded.say("UPAT", "CROOM", "/ptm stage Propose")
    await seeded.post("/sim/home", **{"as": "UPAT"})
    notices = [n["text"] for n in (await seeded.state("UPAT", "CROOM"))["notices"]]
    assert any("/ptm is not a valid command in Northwind Cloud's workspace" in n for n in notices)
    assert any("no App Home in Northwind Cloud's workspace" in n for n in notices)
    assert "Stage Validate" in await seeded.text("USAM", "CROOM")  # nothing changed


async def test_app_home_and_a_modal_with_errors(seeded: Page) -> None:
    await seeded.post("/sim/home", **{"as": "UALEX"})
    home = await seeded.text("UALEX", "home")
    assert "Your co-sell deals" in home and "PTM settings · admins only" in home
    # Set next step from the card, leave the text empty: Slack shows PTM's error in the form.
    card = card_in(seeded, "USAM", "CROOM")
    button = next(
        (b, e)
        for b in card.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("text", {}).get("text") == "Set next step"
    )
    where = {"channel": "CROOM", "ts": card.ts}
    act = {"where": where, "block_id": button[0]["block_id"], "action_id": button[1]["action_id"]}
    await seeded.post("/sim/act", **{"as": "USAM", **act})
    modal = (await seeded.state("USAM", "CROOM"))["modal"]
    assert modal is not None and "Set next step" in modal["html"]
    assert (await seeded.state("UALEX", "CROOM"))["modal"] is None  # the clicker's only
    await seeded.post("/sim/submit", **{"as": "USAM", "view_id": modal["id"], "values": {}})
    after = (await seeded.state("USAM", "CROOM"))["modal"]
    assert after is not None and after["id"] == modal["id"] and after["drawn"] > modal["drawn"]
    assert 'class="bk-input-error"' in after["html"]
    await seeded.post("/sim/close", **{"as": "USAM"})
    assert (await seeded.state("USAM", "CROOM"))["modal"] is None


async def test_the_demo_slack_refuses_what_slack_refuses(seeded: Page) -> None:
    sim = seeded.demo.sim
    bad = {
        "channel": "CROOM",
        "text": "x",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "<b>hi</b>"}}],
    }
    async with seeded.session.post(
        f"{sim.api_url}chat.postMessage", json=bad, headers={"Authorization": f"Bearer {sim.token}"}
    ) as r:
        assert (await r.json())["error"] == "invalid_blocks"
    async with seeded.session.post(
        f"{sim.api_url}chat.postMessage", json=bad, headers={"Authorization": "Bearer xoxb-guess"}
    ) as r:
        assert (await r.json())["error"] == "invalid_auth"
    notices = [n["text"] for n in (await seeded.state("UPAT", "CROOM"))["notices"]]
    assert any("Slack refused chat.postMessage from PTM (invalid_blocks)" in n for n in notices)
    assert "<b>hi</b>" not in json.dumps([m.blocks for m in sim.world.messages])


async def test_the_page_and_its_files_are_served(seeded: Page) -> None:
    async with seeded.session.get(seeded.url + "/") as r:
        page = await r.text()
        assert r.status == 200 and '<script src="/static/app.js">' in page
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        async with seeded.session.get(f"{seeded.url}/static/{name}") as r:
            assert r.status == 200 and r.content_type == kind
    async with seeded.session.get(f"{seeded.url}/static/..%2Frun.py") as r:
        assert r.status == 404


def test_ptm_demo_starts_without_a_slack_token_and_prints_its_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PTM_"))}
    process = subprocess.Popen(
        [
            *PTM,
            "demo",
            "--port",
            "0",
            "--db",
            str(tmp_path / "d.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"open (http://127\.0\.0\.1:(\d+)/)", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")

        async def fetch() -> str:
            async with aiohttp.ClientSession() as session, session.get(match.group(1)) as r:
                return await r.text()

        assert "PTM demo" in asyncio.run(fetch())
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


async def test_what_the_page_sends_badly_is_refused_and_changes_nothing(seeded: Page) -> None:
    world = seeded.demo.sim.world
    before = len(world.messages)
    for path, data in (
        ("/sim/say", "not json"),
        ("/sim/say", "[1, 2]"),
        ("/sim/act", '{"as": "UNOBODY", "action_id": "x"}'),
    ):
        async with seeded.session.post(seeded.url + path, data=data) as r:
            assert r.status == 400, (path, data)
            assert "JSON object" in await r.text() or "no person" in await r.text()
    await seeded.post("/sim/act", **{"as": "USAM", "where": {"channel": "CROOM", "ts": "1.0"}})
    notices = [n["text"] for n in (await seeded.state("USAM", "CROOM"))["notices"]]
    assert "That message is gone." in notices
    assert len(world.messages) == before
