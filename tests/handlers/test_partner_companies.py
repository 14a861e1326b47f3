"""Several partner companies on one deal (a cloud and an SI, say): added and removed by command,
audited; each Slack Connect channel's copy shows its own partner company's rep and the others
only by company and role; a next step owned by the second partner's rep routes, nudges (in a
channel that company is in) and completes."""

from __future__ import annotations

import json

from bot.app.scheduling import run_digests
from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_text
from tests.support.harness import RunningBot, start_bot

# Channel -> the teams in it (besides ours).
CHANNELS = {"CCLOUD": ["TCLOUD"], "CSI": ["TSI"], "CBOTH": ["TCLOUD", "TSI"]}


async def two_partner_deal(fake: FakeSlack, db_url: str) -> tuple[RunningBot, dict[str, str]]:
    fake.users.update({"UCLOUD": "TCLOUD", "USI": "TSI"})
    for channel, teams in CHANNELS.items():
        fake.channel_teams[channel] = ["T0URS", *teams]
    bot = await start_bot(fake, db_url, PTM_ADMINS="UALLY")
    await bot.write(
        "INSERT INTO partners (tenant_id, name_key, name, industries, buyer_levels, "
        "competencies, geographies, contacts, slack_team_id, updated_at) VALUES "
        "(1, 'cloudco', 'Cloudco', '[]', '[]', '[]', '[]', '[]', 'TCLOUD', CURRENT_TIMESTAMP), "
        "(1, 'si partners', 'SI Partners', '[]', '[]', '[]', '[]', '[]', 'TSI', CURRENT_TIMESTAMP)"
    )
    await bot.slack.command("new Acme migration")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UCLOUD>")
    _, answer = await bot.slack.command("partner add <@USI> si")
    assert "Added <@USI>'s company to PTM-1 as SI. PTM-1 now has 2 partner companies." in str(
        answer
    )
    for channel in CHANNELS:
        await bot.slack.command("card PTM-1", channel=channel)
    copies = dict(bot.posted_cards())
    return bot, copies


async def test_each_partner_company_sees_its_own_rep_and_the_others_by_company(
    fake_slack: FakeSlack, db_url: str
) -> None:
    bot, copies = await two_partner_deal(fake_slack, db_url)
    try:
        await bot.slack.command("next Send the SOW for <@USI> by 2026-12-01")
        ours = card_text(bot.card("CROOM", copies["CROOM"]))
        assert "Partner: <@UCLOUD>" in ours and "Partner (SI): <@USI>" in ours
        cloud = card_text(bot.card("CCLOUD", copies["CCLOUD"]))
        assert "Partner: <@UCLOUD> (partner org)" in cloud
        assert "Partner (SI): SI Partners" in cloud and "<@USI>" not in cloud
        assert "Owner SI Partners (partner)" in cloud  # the step, not the person
        si = card_text(bot.card("CSI", copies["CSI"]))
        assert "Partner (SI): <@USI> (partner org)" in si
        assert "Partner: Cloudco" in si and "<@UCLOUD>" not in si
        both = card_text(bot.card("CBOTH", copies["CBOTH"]))
        assert "<@UCLOUD>" in both and "<@USI>" in both
        # The brief and a status answer there name the SI's step by company, not the person.
        bot.fake.calls.clear()
        await bot.slack.command("brief PTM-1", channel="CCLOUD")
        [brief] = [p for p in bot.fake.of("chat.postMessage") if "Co-sell brief" in str(p)]
        assert "partner (SI): SI Partners" in str(brief) and "USI" not in str(brief)
        assert "Send the SOW — SI Partners" in str(brief)
        asked = {
            "type": "app_mention", "channel": "CCLOUD", "user": "UCLOUD",
            "text": "<@UPTMBOT> status of PTM-1?", "ts": "1.5", "team": "TCLOUD",
            "user_team": "TCLOUD",
        }  # fmt: skip
        bot.fake.calls.clear()
        await bot.slack.event(asked, event_id="EvStatusCloud", ext_shared=True)
        [status] = [p for p in bot.fake.of("chat.postMessage") if p.get("thread_ts")]
        assert "Send the SOW — SI Partners (partner)" in status["text"]
        assert "USI" not in status["text"]
        # The ledger: each company received the other only as a company.
        rows = await bot.rows(
            "SELECT DISTINCT receiving_team, field FROM disclosures WHERE channel_id = 'CCLOUD' "
            "AND surface = 'card' AND field IN ('trio', 'partners') ORDER BY field"
        )
        assert rows == [("TCLOUD", "partners"), ("TCLOUD", "trio")]
    finally:
        await bot.stop()


async def test_a_step_of_the_second_partner_routes_nudges_and_completes(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    fake_slack.users.update({"UCLOUD": "TCLOUD", "USI": "TSI"})
    bot, copies = await two_partner_deal(fake_slack, sqlite_url)
    try:
        _, answer = await bot.slack.command("next Send the SOW for <@USI> by 2026-11-30")
        assert "<@USI>" in str(answer)
        [(owner, role)] = await bot.rows("SELECT owner_user, owner_role FROM next_steps")
        assert (owner, role) == ("USI", "partner")
        # The daily nudge replies in a channel the SI is in, never in the cloud's channel.
        await run_digests(bot.runtime.deps)
        nudges = [p for p in bot.fake.of("chat.postMessage") if p.get("thread_ts")]
        assert [n["channel"] for n in nudges] in (["CSI"], ["CBOTH"])
        assert nudges[0]["text"].startswith("<@USI> your next step on *PTM-1*")
        # The SI's rep completes it from their channel's card.
        await bot.slack.click(
            bot.card("CSI", copies["CSI"]), "ptm_card_step_done", channel="CSI",
            ts=copies["CSI"], user="USI", user_team="TSI",
        )  # fmt: skip
        assert await bot.rows("SELECT status, done_by FROM next_steps") == [("done", "USI")]
    finally:
        await bot.stop()


async def test_partner_companies_are_added_and_removed_with_clear_answers(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    bot, copies = await two_partner_deal(fake_slack, sqlite_url)
    try:
        for text, said in [
            ("partner add <@USI> si", "already on PTM-1"),
            ("partner add <@UOTHER> bank", "not a partner role; use one of cloud, isv, si"),
            ("partner add", "/ptm partner add @rep"),
            ("partner remove <@UNOBODY>", "is not a partner rep on PTM-1"),
        ]:
            _, answer = await bot.slack.command(text)
            assert said in str(answer), (text, answer)
        await bot.slack.command("next Send the SOW for <@USI> by 2026-12-01")
        _, answer = await bot.slack.command("partner remove <@USI>")
        assert "owns the open next step" in str(answer)
        await bot.slack.command("next Kick-off for <@UCLOUD> by 2026-12-01")
        _, answer = await bot.slack.command("partner remove <@USI>")
        assert "Removed <@USI>'s company from PTM-1." in str(answer)
        assert "<@USI>" not in card_text(bot.card("CROOM", copies["CROOM"]))
        assert "SI Partners" not in card_text(bot.card("CCLOUD", copies["CCLOUD"]))
        audit = await bot.rows(
            "SELECT changes FROM deal_events WHERE changes LIKE '%partners.USI%' ORDER BY id"
        )
        assert [str(a) for (a,) in audit] == [
            '{"partners.USI": [null, "si"]}',
            '{"partners.USI": ["si", null]}',
        ]
        # One partner left: the card is the trio as ever.
        cloud = card_text(bot.card("CCLOUD", copies["CCLOUD"]))
        assert "Partner: <@UCLOUD> (partner org)" in cloud
    finally:
        await bot.stop()


async def test_the_card_adds_and_removes_partner_companies_for_our_people_only(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    bot, copies = await two_partner_deal(fake_slack, sqlite_url)
    try:
        room = bot.card("CROOM", copies["CROOM"])
        # Only our own copy offers it; a partner rep cannot open it from theirs either.
        assert "Partner companies" in str(room["blocks"])
        assert "Partner companies" not in str(bot.card("CSI", copies["CSI"])["blocks"])
        fake_slack.users["URESELL"] = "TRESELL"
        bot.fake.calls.clear()
        await bot.slack.click(
            room, "ptm_card_more", channel="CROOM", ts=copies["CROOM"], option="partners"
        )
        [opened] = bot.fake.of_calls("views.open")
        view = opened.payload["view"]
        assert "<@UCLOUD> (partner)" in str(view["blocks"]) and "<@USI> (SI)" in str(view["blocks"])
        _, answer = await bot.slack.submit(
            view, {"partner_add": "URESELL", "partner_kind": "reseller", "partner_remove": "USI"}
        )
        assert not (answer or {}).get("errors"), answer
        ours = card_text(bot.card("CROOM", copies["CROOM"]))
        assert "Partner (reseller): <@URESELL>" in ours and "<@USI>" not in ours
        [(team,)] = await bot.rows("SELECT team_id FROM trio_members WHERE user_id = 'URESELL'")
        assert team == "TRESELL"  # their company, learned from Slack after the answer
        _, refused = await bot.slack.submit(view, {})
        assert "Choose a rep to add" in refused["errors"]["partner_add"]
        # A forged menu choice on their copy changes nothing and says why.
        forged = json.loads(json.dumps(bot.card("CSI", copies["CSI"])))
        for block in forged["blocks"]:
            for element in block.get("elements", []):
                if element.get("action_id") == "ptm_card_more":
                    element["options"].append(
                        {"text": {"type": "plain_text", "text": "x"}, "value": "partners"}
                    )
        bot.fake.calls.clear()
        await bot.slack.click(
            forged, "ptm_card_more", channel="CSI", ts=copies["CSI"], option="partners",
            user="USI", user_team="TSI",
        )  # fmt: skip
        assert not bot.fake.of_calls("views.open")
        assert "Only our own people add or remove partner companies" in str(bot.fake.calls)
    finally:
        await bot.stop()


async def test_log_to_all_reaches_our_crm_and_each_partner_companys_once(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    """Our CRM, the partner company in a partnership (its own connector, set by its admins)
    and a partner company without PTM (our partner-side connector): three connectors, one
    delivery each, each with its own state; retries never send twice."""
    from bot.app.scheduling import deliver_outbox
    from tests.fakes.crm import FakeCrm
    from tests.handlers.test_admin_home import open_home
    from tests.handlers.test_install import MANY, OURS, THEIRS, install
    from tests.handlers.test_partnerships import SHARED, accepted, opened

    crm = FakeCrm()
    await crm.start()
    fake_slack.install_codes = {"code-ours": OURS, "code-theirs": THEIRS}
    fake_slack.users.update({"UINSTALLER": "T0URS", "UTHEIRS": "TPARTNER", "USI": "TSI"})
    fake_slack.channel_teams[SHARED] = ["T0URS", "TPARTNER"]
    bot = await start_bot(fake_slack, sqlite_url, PTM_CRM_ALLOW_PRIVATE="1", **MANY)
    try:
        await install(bot, "code-ours")
        await install(bot, "code-theirs")
        await accepted(bot)

        async def connect(user: str, team: str, side: str, path: str) -> None:
            home = await open_home(bot, user, team=team)
            await bot.slack.click_home(home, "ptm_admin_crm", user=user, team=team, value=side)
            modal, _ = opened(bot)
            values = {"crm_kind": "webhook", "crm_url": crm.url(path), "crm_secret": "k" * 20}
            await bot.slack.submit(modal, values, user=user, user_team=team, installed_team=team)

        await connect("UTHEIRS", "TPARTNER", "ours", "theirs")
        await connect("UINSTALLER", "T0URS", "ours", "ours")
        await connect("UINSTALLER", "T0URS", "partner", "partner")
        await bot.slack.command("new Acme", user="UINSTALLER")
        await bot.slack.command("trio <@UINSTALLER> <@UINSTALLER> <@UTHEIRS>", user="UINSTALLER")
        await bot.slack.command("partner add <@USI> si", user="UINSTALLER")
        await bot.slack.command("card PTM-1", user="UINSTALLER", channel=SHARED)
        _, logged = await bot.slack.command("log joint call held", user="UINSTALLER")
        assert "Sending to every CRM" in str(logged), logged
        assert bot.runtime.tenants is not None
        crm.script = ["500"]  # one delivery fails once: retried, still once in the end
        for _ in range(3):
            bot.clock.advance(minutes=10)
            for deps in await bot.runtime.tenants.each():
                await deliver_outbox(deps)
        import json as _json

        got = {path: [_json.loads(r.body) for r in crm.delivered(path)]
               for path in ("ours", "partner", "theirs")}  # fmt: skip
        assert {p: len(v) for p, v in got.items()} == {"ours": 1, "partner": 1, "theirs": 1}
        assert got["partner"][0]["partner_company"] == {"team": "TSI", "role": "si"}
        assert got["theirs"][0]["partner_company"] == {"team": "TPARTNER", "role": None}
        assert "partner_company" not in got["ours"][0]
        rows = await bot.rows("SELECT side, company, status FROM crm_outbox ORDER BY side, company")
        assert rows == [
            ("ours", "", "delivered"),
            ("partner", "TPARTNER", "delivered"),
            ("partner", "TSI", "delivered"),
        ]
        # Each delivery's state on our card; their copy shows ours as delivered or waiting,
        # theirs in full, and nothing of the other partner company's CRM.
        copies = dict(bot.posted_cards())
        ours = card_text(bot.card("CROOM", copies["CROOM"]))
        assert "our CRM: delivered" in ours and "partner CRM (<@UTHEIRS>): delivered" in ours
        assert "SI CRM (<@USI>): delivered" in ours
        theirs = card_text(bot.card(SHARED, copies[SHARED]))
        assert "partner CRM (<@UTHEIRS>): delivered" in theirs and "USI" not in theirs
        # Competitors hidden from each other: no partner company's CRM hears of the match.
        await bot.write("UPDATE deals SET partner = 'Cloudco'")
        await bot.write("UPDATE tenants SET partners_see_each_other = false")
        await bot.slack.command("log second call", user="UINSTALLER")
        for _ in range(3):
            bot.clock.advance(minutes=10)
            for deps in await bot.runtime.tenants.each():
                await deliver_outbox(deps)
        last = {p: _json.loads(crm.delivered(p)[-1].body) for p in ("ours", "partner", "theirs")}
        assert last["ours"]["partner"] == "Cloudco"
        assert last["partner"]["partner"] is None and last["theirs"]["partner"] is None
    finally:
        await bot.stop()
        await crm.stop()


async def test_metrics_and_the_report_count_per_partner_company(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    from tests.support.cli import run_ptm

    bot, _copies = await two_partner_deal(fake_slack, sqlite_url)
    try:
        await bot.slack.command("attribution co-sell")
        await bot.write("UPDATE deals SET amount = 250000")
        await bot.slack.command("metrics", user="UALLY")
        shown = str(bot.fake.of("response_url")[-1]["blocks"])
        assert "*By partner company*" in shown
        assert "*Cloudco* (1) — co-sell: pipeline USD 250,000 (1 deal)" in shown
        assert "*SI Partners* (1) — co-sell: pipeline USD 250,000 (1 deal)" in shown
        code, out, err = await run_ptm(bot.fake, sqlite_url, "report")
        assert code == 0, err
        assert "By partner company" in out and "  Cloudco (1 deal)" in out
        # The totals still count the deal once.
        totals = out.split("By partner company")[0]
        assert totals.count("pipeline: USD 250,000 (1 deal)") == 1
    finally:
        await bot.stop()


async def test_competing_partner_companies_can_be_hidden_from_each_other(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    from tests.handlers.test_admin_home import open_home, text_of

    bot, copies = await two_partner_deal(fake_slack, sqlite_url)
    try:
        await bot.slack.command("next Send the SOW for <@USI> by 2026-12-01")
        home = await open_home(bot, "UALLY")
        assert "see each other by company and role" in text_of(home)
        await bot.slack.click_home(home, "ptm_admin_partners_see", user="UALLY", option="no")
        assert "see each other not at all (competitors)" in text_of(await open_home(bot, "UALLY"))
        await bot.slack.command("stage Validate")  # the next update of every copy
        cloud = card_text(bot.card("CCLOUD", copies["CCLOUD"]))
        assert "SI Partners" not in cloud and "<@USI>" not in cloud and "(SI)" not in cloud
        assert "Owner another partner company (partner)" in cloud
        assert "<@UCLOUD>" in cloud
        both = card_text(bot.card("CBOTH", copies["CBOTH"]))
        assert "<@UCLOUD>" in both and "<@USI>" in both  # they are in one channel anyway
        ours = card_text(bot.card("CROOM", copies["CROOM"]))
        assert "<@USI>" in ours and "<@UCLOUD>" in ours
        audit = await bot.rows("SELECT action, detail FROM tenant_events")
        assert ("partners_see_each_other", '{"visible": false}') in [tuple(a) for a in audit]
    finally:
        await bot.stop()
