"""Many-workspace mode: "Add to Slack" with Bolt's OAuth flow, installations stored encrypted
in PTM's database, each request served for the tenant whose installation it came through."""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import services
from bot.adapters.installations import EncryptedInstallationStore
from bot.adapters.sealing import Seal
from bot.adapters.secrets import SecretBox
from bot.adapters.slack import BOT_SCOPES, SlackGateway, make_client
from bot.app.config import Settings
from bot.app.deps import Clock, Deps
from bot.app.tenancy import BotToken, TenantDeps, TokenFinder, tenant_key
from store import UowFactory
from store.installations import BOTS, INSTALLATIONS, OAUTH_STATES_TABLE

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_EXPIRES = 10 * 60  # seconds an "Add to Slack" click has to come back


def oauth_settings(
    settings: Settings,
    engine: AsyncEngine,
    root: UowFactory,
    clock: Clock,
    client: AsyncWebClient,
) -> AsyncOAuthSettings:
    """Bolt's OAuth flow and authorization on PTM's tables. `client` (no token, at
    SLACK_API_URL) makes every OAuth call: the install's oauth.v2.access and token refreshes."""
    oauth = settings.oauth
    assert oauth is not None
    box = SecretBox([k.get_secret_value() for k in oauth.secret_keys])
    installations = EncryptedInstallationStore(
        client_id=oauth.client_id, engine=engine, box=box, installations=INSTALLATIONS, bots=BOTS
    )
    states = AsyncSQLAlchemyOAuthStateStore(
        expiration_seconds=STATE_EXPIRES, engine=engine, table_name=OAUTH_STATES_TABLE
    )

    async def installed(args: AsyncSuccessArgs) -> BoltResponse:
        """The workspace's tenant exists from now on, the installer its first admin."""
        done = args.installation
        key = tenant_key(done.team_id, done.enterprise_id, bool(done.is_enterprise_install))
        assert key is not None
        name = (done.enterprise_name if done.is_enterprise_install else done.team_name) or ""
        await services.install_tenant(root, key, name=name, installer=done.user_id, now=clock.now())
        return await args.default.success(args)

    flow = AsyncOAuthSettings(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=states,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        redirect_uri=oauth.redirect_uri,
        callback_options=AsyncCallbackOptions(success=installed, failure=_default_failure),
    )
    # Bolt's own authorize would refresh rotating tokens through a client of its own, always
    # at slack.com: this one refreshes them where SLACK_API_URL says (GovSlack, tests).
    flow.authorize = AsyncInstallationStoreAuthorize(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret.get_secret_value(),
        installation_store=installations,
        bot_only=True,
        client=client,
        logger=logging.getLogger("ptm.bolt"),
        # Bolt asks auth.test about a token before its first use; once per token is enough
        # (a rotated token is a new one), not once per request.
        cache_enabled=True,
    )
    return flow


async def _default_failure(args):  # type: ignore[no-untyped-def]
    return await args.default.failure(args)


def token_finder(
    installations: EncryptedInstallationStore, authorize: AsyncInstallationStoreAuthorize
) -> TokenFinder:
    """The bot tokens of a batch of tenants (by workspace or Grid org id) for work done outside
    any request, read in one query; a token about to expire is refreshed first (the same
    rotation Bolt does before a request)."""

    async def tokens_for(keys: list[str]) -> dict[str, BotToken]:
        found = {}
        for key, bot in (await installations.find_bots(keys)).items():
            if bot.bot_refresh_token is not None and authorize.token_rotator is not None:
                refreshed = await authorize.token_rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=authorize.token_rotation_expiration_minutes
                )
                if refreshed is not None:
                    await installations.async_save_bot(refreshed)
                    bot = refreshed
            if bot.bot_token is not None:
                found[key] = (bot.bot_token, bot.team_id, bot.enterprise_id, bot.bot_user_id)
        return found

    return tokens_for


def tenant_deps(
    settings: Settings,
    root: UowFactory,
    clock: Clock,
    build: Callable[..., Deps],
    token_for: TokenFinder,
    *,
    http: aiohttp.ClientSession | None = None,
) -> TenantDeps:
    """Deps per tenant: its scoped units of work, a gateway on its installation's token (the
    modal seal keyed by PTM_SECRET_KEY, the same for every installation)."""
    oauth = settings.oauth
    assert oauth is not None
    seal = Seal(oauth.secret_keys[0].get_secret_value())
    box = SecretBox([k.get_secret_value() for k in oauth.secret_keys])

    async def make(
        tenant: int, client: AsyncWebClient, home: tuple[str | None, str | None]
    ) -> Deps:
        gateway = SlackGateway(make_client(client.token, settings.slack_api_url, http), seal=seal)
        gateway.know_installation(*home)
        return build(settings, uow=root.for_tenant(tenant), slack=gateway, clock=clock, box=box)

    return TenantDeps(root, make, clock, token_for, digest_hour=settings.digest_hour)
