"""The disclosure ledger: what of a deal crossed to another company — card copies and their
metadata in shared channels, the partner's CRM — recorded before it crossed, exactly once per
field, version, surface and company; listed by `ptm disclosures` and summed up in App Home."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_admin_home import open_home, text_of
from tests.handlers.test_visibility import SECRET, set_internal_fields
from tests.support.cli import run_ptm
from tests.support.harness import RunningBot, start_bot

LEDGER = "SELECT field, version, surface, receiving_team, channel_id FROM disclosures ORDER BY id"


@pytest.fixture
async def ledger_bot(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    fake_slack.channel_teams["CSHARED"] = ["T0URS", "TPARTNER"]
    fake_slack.users.update({"UADMIN": "T0URS"})
    running = await start_bot(
        fake_slack,
        sqlite_url,
        PTM_ADMINS="UADMIN",
        # Nobody listens there: the outcome waits in the outbox, recorded all the same.
        PTM_CRM_PARTNER_URL="http://127.0.0.1:9/partner",
        PTM_CRM_PARTNER_SECRET="their-secret",
    )
    yield running
    await running.stop()


async def test_what_crossed_is_recorded_once_and_nothing_internal(
    ledger_bot: RunningBot, sqlite_url: str, tmp_path: Path
) -> None:
    bot = ledger_bot
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    room = next(ts for ch, ts in bot.posted_cards() if ch == "CROOM")
    await set_internal_fields(bot, room)
    # Nothing has left the company yet: the deal room is ours alone.
    assert await bot.rows(LEDGER) == []

    await bot.slack.command("card PTM-1", channel="CSHARED")
    [(v1,)] = await bot.rows("SELECT version FROM deals")
    rows = await bot.rows(LEDGER)
    assert {(f, s) for f, _, s, _, _ in rows} >= {
        ("name", "card"), ("stage", "card"), ("trio", "card"),
        ("name", "metadata"), ("stage", "metadata"), ("status", "metadata"),
    }  # fmt: skip
    assert {(v, t, c) for _, v, _, t, c in rows} == {(v1, "TPARTNER", "CSHARED")}
    assert not {f for f, *_ in rows} & {"internal_notes", "forecast_category", "trigger"}

    # A change crosses again at its version; the room's copy records nothing.
    await bot.slack.command("stage Discover")
    await bot.slack.command("stage Discover")  # no change: nothing new
    after = await bot.rows(LEDGER)
    assert {v for _, v, *_ in after} == {v1, v1 + 1}
    assert len(after) == 2 * len(rows)  # the same fields, once more at v+1, nothing twice
    assert all(c == "CSHARED" for *_, c in after)

    # A brief posted there: its fields, at its version.
    _, said = await bot.slack.command("brief PTM-1 intro to the CMO", channel="CSHARED")
    assert "Posted the co-sell brief" in str(said), said
    brief = await bot.rows("SELECT field FROM disclosures WHERE surface = 'brief'")
    assert {"name", "stage", "trio"} <= {f for (f,) in brief}

    # An outcome for the partner's CRM is recorded as it is queued.
    await bot.slack.command("log joint call held")
    crm = await bot.rows("SELECT field, receiving_team FROM disclosures WHERE surface = 'crm'")
    assert {"outcome", "name", "stage"} <= {f for f, _ in crm}
    assert SECRET not in str(await bot.rows("SELECT * FROM disclosures"))

    # `ptm disclosures`: filters and the CSV.
    out_file = tmp_path / "ledger.csv"
    code, out, err = await run_ptm(
        bot.fake, sqlite_url, "disclosures", "--to", "TPARTNER", "--csv", str(out_file)
    )
    assert code == 0, err
    table = list(csv.reader(io.StringIO(out_file.read_text())))
    assert table[0] == [
        "at", "deal", "field", "version", "surface", "receiving_team", "receiving_company"
    ]  # fmt: skip
    theirs = await bot.rows("SELECT id FROM disclosures WHERE receiving_team = 'TPARTNER'")
    assert len(table) - 1 == len(theirs) > len(after) and {r[1] for r in table[1:]} == {"PTM-1"}
    assert {r[4] for r in table[1:]} == {"card", "metadata", "brief", "crm"}
    assert f"{len(theirs)} disclosure(s)" in out and "PTM-1 v" in out
    code, out, _ = await run_ptm(bot.fake, sqlite_url, "disclosures", "--deal", "PTM-7")
    assert code == 0 and "0 disclosure(s)" in out
    code, out, _ = await run_ptm(bot.fake, sqlite_url, "disclosures", "--since", "2099-01-01")
    assert code == 0 and "0 disclosure(s)" in out
    code, _, err = await run_ptm(bot.fake, sqlite_url, "disclosures", "--since", "soon")
    assert code == 2 and "--since" in err

    # An admin's App Home sums it up.
    home = text_of(await open_home(bot, "UADMIN"))
    assert "*Shared with other companies*" in home and "TPARTNER" in home
    assert f"TPARTNER: {len(theirs)} values of 1 deal" in home
