"""The demo in a real browser: headless Chromium (Debian's package, driven by Playwright)
clicks through the motion as people do, against PTM unchanged and the demo's Slack.

A missing browser fails this test: CI installs Chromium (.ci/run), and a skipped browser test
would hide a broken page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from bot.demo.run import start_demo

CHROMIUM = os.environ.get("PTM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("PTM_TEST_ARTIFACTS", "test-artifacts"))
# The flags a headless Chromium needs on a closed machine (no sandbox as root, no background
# calls to Google's hosts).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOM = "acme-health-cosell"


def card(page: Page):
    """The deal card in the conversation on screen (a message with a header block)."""
    return page.locator(".sim-message:not(.sim-ephemeral)").filter(
        has=page.locator(".bk-header-text")
    )


async def be(page: Page, name: str) -> None:
    await page.select_option("#as", label=name)
    await expect(page.locator("#me")).not_to_be_empty()


async def open_channel(page: Page, name: str) -> None:
    await page.locator("#conversations a", has_text=name).click()
    await expect(page.locator("#title")).to_have_text(f"#{name}")


async def type_in(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


async def test_a_deal_through_the_page_as_seller_and_partner_rep(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's chromium package "
            "(apt-get install chromium), or set PTM_CHROMIUM"
        )
    demo = await start_demo(port=0, database=tmp_path / "demo.db", env={})
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("dialog", lambda dialog: dialog.accept())
            await page.goto(demo.url)

            # The seller creates the deal in the Slack Connect room and names the trio.
            await be(page, "Sam Rivera — Lumen Software")
            await open_channel(page, ROOM)
            await type_in(page, "/ptm new Acme Health data platform")
            await expect(card(page).locator(".bk-header-text")).to_contain_text(
                "PTM-1 · Acme Health data platform"
            )
            await expect(page.locator(".sim-ephemeral")).to_contain_text("Created PTM-1")
            await type_in(page, "/ptm trio @sam @alex @pat")
            await expect(card(page)).to_contain_text("Partner: @Pat Quinn")

            # The partner rep: another company, which has not installed PTM.
            await be(page, "Pat Quinn — Northwind Cloud")
            await expect(page.locator("#conversations")).not_to_contain_text("Home")
            await expect(page.locator("#conversations a")).to_have_count(1)
            await expect(page.locator("#title")).to_have_text(f"#{ROOM}")
            # The seller's ephemeral answers are the seller's only.
            await expect(page.locator(".sim-ephemeral")).to_have_count(0)
            await type_in(page, "/ptm help")
            await expect(page.locator(".sim-notice.sim-error")).to_contain_text(
                "/ptm is not a valid command in Northwind Cloud's workspace"
            )

            await card(page).get_by_role("button", name="I'm synced").click()
            trio = card(page).locator(".bk-text", has_text="Partner: @Pat Quinn")
            await expect(trio).to_contain_text("Partner: @Pat Quinn (partner org) · ✅ synced")

            await card(page).get_by_role("button", name="Set next step").click()
            modal = page.locator("#modal")
            await expect(modal.locator(".sim-modal-title")).to_have_text("Set next step")
            await modal.locator("textarea").fill("Send the security questionnaire")
            await modal.locator("select").select_option(value="partner")
            await modal.locator("input[type=date]").fill("2030-01-15")
            await modal.get_by_role("button", name="Save").click()
            await expect(page.locator("#modal-backdrop")).to_be_hidden()

            shown = card(page)
            await expect(shown).to_contain_text("Send the security questionnaire")
            await expect(shown).to_contain_text("Owner @Pat Quinn (partner) · due 2030-01-15")

            # The seller sees the same card, changed in place: one card in the room.
            await be(page, "Sam Rivera — Lumen Software")
            await open_channel(page, ROOM)
            await expect(card(page)).to_have_count(1)
            await expect(card(page)).to_contain_text("Send the security questionnaire")
            await expect(card(page).locator(".sim-edited")).to_be_visible()

            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "demo-deal-room.png"), full_page=True)
            await browser.close()
        assert not demo.sim.refused, demo.sim.refused
    finally:
        await demo.stop()
