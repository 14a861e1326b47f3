"""Many workspaces: a tenant's admins make its CRM a Salesforce connector in App Home; links,
notifications and the connector's health are that tenant's alone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.domain.outbox import signature
from tests.fakes.salesforce import FakeSalesforce
from tests.handlers.test_admin_home import many, open_home, text_of  # noqa: F401  (fixture)
from tests.support.harness import RunningBot

OPP = "006000000000001AAA"
HOOK = "tenant-flow-hmac-secret"


@pytest.fixture
async def sf() -> AsyncIterator[FakeSalesforce]:
    fake = FakeSalesforce()
    await fake.start()
    fake.add(1, "Acme expansion", Account="Acme Corp", Amount=120000.0, StageName="Qualification")
    yield fake
    await fake.stop()


async def set_salesforce(bot: RunningBot, sf: FakeSalesforce, **typed: Any) -> Any:
    home = await open_home(bot, "UINSTALLER")
    await bot.slack.click_home(home, "ptm_admin_crm", user="UINSTALLER", value="ours")
    [opened] = bot.fake.of("views.open")
    values = {"crm_kind": "salesforce", "crm_url": sf.url, "crm_secret": sf.client_secret,
              "crm_client_id": sf.client_id, "crm_webhook_secret": HOOK, **typed}  # fmt: skip
    _, answer = await bot.slack.submit(opened["view"], values, user="UINSTALLER", user_team="T0URS")
    return answer


async def post(bot: RunningBot, body: dict[str, Any], secret: str) -> int:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-PTM-Signature": signature(secret, raw)}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{bot.base_url}/crm/salesforce", data=raw, headers=headers) as r:
            return r.status


async def test_a_tenant_connects_salesforce_in_app_home_and_only_it_hears_from_it(
    many: RunningBot,  # noqa: F811
    sf: FakeSalesforce,
) -> None:
    bot = many
    answer = await set_salesforce(bot, sf, crm_client_id="")
    assert "consumer key" in answer["errors"]["crm_client_id"]
    answer = await set_salesforce(bot, sf, crm_webhook_secret="short")
    assert "notification secret" in answer["errors"]["crm_webhook_secret"]
    assert await set_salesforce(bot, sf) is None
    [(kind, client_id, sealed_hook)] = await bot.rows(
        "SELECT kind, client_id, webhook_secret FROM crm_connectors"
    )
    assert (kind, client_id) == ("salesforce", sf.client_id) and HOOK not in sealed_hook
    assert "Salesforce →" in text_of(await open_home(bot, "UINSTALLER"))

    await bot.slack.command("new Placeholder", user="UINSTALLER", team="T0URS")
    _, linked = await bot.slack.command(f"link {OPP}", user="UINSTALLER", team="T0URS")
    assert "Linked PTM-1 to Salesforce opportunity" in linked["text"]
    [(name,)] = await bot.rows("SELECT name FROM deals")
    assert name == "Acme expansion"

    sf.change(OPP, Name="Acme expansion (signed)")
    stamp = sf.opportunities[OPP].SystemModstamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    body = {"Id": OPP, "SystemModstamp": stamp}
    assert await post(bot, body, "the-other-companys-secret") == 401
    assert await post(bot, body, HOOK) == 204
    [(name,)] = await bot.rows("SELECT name FROM deals")
    assert name == "Acme expansion (signed)"

    # The admin rotates the client secret in Salesforce only: the connector needs attention,
    # in App Home, until they fix it; nothing else waits on it.
    sf.client_secret = "rotated-consumer-secret-0001"
    sf.expire_tokens()
    _, refused = await bot.slack.command(f"link {OPP}", user="UINSTALLER", team="T0URS")
    assert "client credentials" in refused["text"]
    home = text_of(await open_home(bot, "UINSTALLER"))
    assert "Needs attention" in home and "client credentials" in home
    assert await set_salesforce(bot, sf, crm_secret="rotated-consumer-secret-0001") is None
    home = text_of(await open_home(bot, "UINSTALLER"))
    assert "Needs attention" not in home
