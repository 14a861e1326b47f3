"""Build the PTM Bolt app and everything it depends on; no module-level state."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from blocks.home import build_home, build_outsider_home
from bot import services
from bot.adapters.aws import PartnerCentral
from bot.adapters.crm import CrmConnectors
from bot.adapters.installations import EncryptedInstallationStore
from bot.adapters.prompt_ack import PromptListenerRunner
from bot.adapters.secrets import SecretBox
from bot.adapters.slack import SlackGateway, make_client
from bot.app.activity import ActivityThrottle
from bot.app.budget import UpdateBudget
from bot.app.cardsync import CardSyncer, SyncTuning
from bot.app.config import DEFAULT_API_URL, NO_TOKEN, CrmTarget, Settings
from bot.app.deps import Clock, Deps, SystemClock, inject_middleware
from bot.app.homes import HomeRefresher
from bot.app.tenancy import TenantDeps, tenant_middleware
from bot.app.workspaces import oauth_settings, tenant_deps, token_finder
from bot.domain.crm import ConnectorConfig, CrmKind
from bot.domain.model import is_our_org
from bot.domain.outbox import Side
from bot.services.cards import take_update_tokens
from handlers import register_all
from handlers.events import replay_stalled_mentions
from store import UowFactory, create_schema, make_engine, make_session_factory, uow_factory


@dataclass
class Runtime:
    """The app plus the resources whose lifetime the entry point owns. One workspace: `deps`.
    Many: `tenants`, each tenant's deps made on its first request."""

    app: AsyncApp
    deps: Deps | None
    engine: AsyncEngine
    tenants: TenantDeps | None = None
    # The one HTTP session every Slack Web API client of this process shares (kept-alive
    # connections instead of one per call).
    http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self.deps is not None:
            await self.deps.cards.close()
            await self.deps.homes.close()
            await self.deps.crm.aclose()
        if self.tenants is not None:
            await self.tenants.close()
        if self.http is not None:
            await self.http.close()
        await self.engine.dispose()


def build_deps(
    settings: Settings,
    *,
    uow: UowFactory,
    slack: SlackGateway,
    clock: Clock,
    tuning: SyncTuning | None = None,
    box: SecretBox | None = None,
) -> Deps:
    """One tenant's deps. With many workspaces (`box`: PTM_SECRET_KEY), its CRM connectors
    are the ones its admins set in App Home; with one, the environment's."""
    many = settings.many_workspaces
    defaults = services.TenantDefaults(
        digest_hour=settings.digest_hour,
        configured_connectors={} if many else {s.value: t.url for s, t in _env_targets(settings)},
        configured_kinds={} if many else {s.value: t.kind for s, t in _env_targets(settings)},
        aws_cosell=settings.aws is not None,
        connectors_editable=many,
        allow_private_crm=settings.crm_allow_private,
        many_workspaces=many,
        install_url=settings.oauth.install_url if settings.oauth is not None else None,
    )
    ctx = services.Ctx(
        uow=uow,
        today=lambda: clock.now().date(),
        now=clock.now,
        admins=settings.admins,
        team_of=slack.team_of,
        channel_shared=slack.channel_shared,
        tz_of=slack.tz_of,
        defaults=defaults,
        is_bot=slack.is_bot,
        teams_of_channel=slack.other_teams,
        known_teams_of_channel=slack.known_teams,
        seal_secret=box.seal if box is not None else None,
    )
    homes = HomeRefresher(
        lambda user_id, notice=None: _publish_home(ctx, slack, user_id, notice),
        delay=(tuning or SyncTuning()).home_delay,
    )
    tuned = tuning or SyncTuning()
    limits = tuned.budget

    async def take(want: int, extra: int) -> int:
        return await take_update_tokens(ctx, want, extra, rate=limits.rate, burst=limits.burst)

    budget = UpdateBudget(take, limits)
    cards = CardSyncer(slack, ctx, tuning=tuned, homes=homes.refresh, budget=budget)
    if many and box is not None:
        crm = CrmConnectors(
            load=lambda: services.connector_targets(ctx),
            partner=lambda tenant: services.partner_connector(ctx, tenant),
            open_secret=box.open,
        )
    else:
        crm = CrmConnectors({side: _config(target) for side, target in _env_targets(settings)})
    aws = (
        PartnerCentral(catalog=settings.aws.catalog, solution_id=settings.aws.solution_id)
        if settings.aws is not None
        else None
    )
    return Deps(
        settings=settings,
        ctx=ctx,
        slack=slack,
        cards=cards,
        activity=ActivityThrottle(),
        homes=homes,
        crm=crm,
        aws=aws,
    )


def _config(target: CrmTarget) -> ConnectorConfig:
    inbound = target.webhook_secret
    return ConnectorConfig(
        CrmKind(target.kind),
        target.url,
        target.secret.get_secret_value(),
        client_id=target.client_id,
        webhook_secret=inbound.get_secret_value() if inbound is not None else "",
    )


def _env_targets(settings: Settings) -> list[tuple[Side, CrmTarget]]:
    sides = ((Side.OURS, settings.crm_ours), (Side.PARTNER, settings.crm_partner))
    return [(side, target) for side, target in sides if target is not None]


async def _publish_home(
    ctx: services.Ctx, slack: SlackGateway, user_id: str, notice: str | None = None
) -> None:
    """Slack shows our App Home to our own people only; should someone from another company
    reach it anyway, they get no deal data and none of our metrics. Admins also get the
    workspace's PTM settings (with `notice`, the answer to what they just changed)."""
    home_team, home_enterprise = await slack.installation()
    ours = is_our_org(
        await slack.team_of(user_id), home_team=home_team, home_enterprise=home_enterprise
    )
    if not ours:
        await slack.publish_home(user_id, build_outsider_home())
        return
    view = await services.home_for(ctx, user_id)
    settings = await services.admin_view(ctx, user_id)
    await slack.publish_home(user_id, build_home(view, settings, notice=notice))


log = logging.getLogger(__name__)


class _BoltNoise(logging.Filter):
    """Bolt warns at every start that SLACK_BOT_TOKEN (which it reads from the environment on
    its own) is unused because we hand it a client: true, expected, and noise. And while Slack
    is unreachable, Socket Mode logs a traceback at every reconnection try: one line will do."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "will be unused" in message or message.startswith("Failed to retrieve WSS URL"):
            return False  # the second: PTM says in one line why it cannot connect
        if message.startswith("Failed to connect"):
            record.exc_info, record.exc_text = None, None
        return True


BOLT_LOG = logging.getLogger("ptm.bolt")
BOLT_LOG.addFilter(_BoltNoise())


def create_app(
    settings: Settings,
    deps: Deps | None,
    *,
    process_before_response: bool = False,
    raise_error_for_unhandled_request: bool = False,
    tenants: TenantDeps | None = None,
    oauth: AsyncOAuthSettings | None = None,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    """The Bolt AsyncApp with PTM's listeners; tests pass process_before_response=True. One
    workspace: `deps` and its bot token. Many: `tenants` and `oauth` (Bolt's OAuth flow and
    installation store; a client without a token, each request bringing its own)."""
    app = AsyncApp(
        signing_secret=settings.signing_secret.get_secret_value()
        if settings.signing_secret
        else "",
        client=deps.slack.client if deps is not None else client,
        logger=BOLT_LOG,
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=raise_error_for_unhandled_request,
        oauth_settings=oauth,
        installation_store_bot_only=True if oauth is not None else None,
    )
    # Answer the moment a listener acks, not at Bolt's next 10 ms poll (bot.adapters.prompt_ack).
    app._async_listener_runner = PromptListenerRunner.replacing(app._async_listener_runner)
    if deps is not None:
        app.use(inject_middleware(deps))
        deps.replay_mentions = replay_stalled_mentions
    if tenants is not None:
        app.use(tenant_middleware(tenants))
        # app_uninstalled and tokens_revoked delete the workspace's tokens at once.
        app.enable_token_revocation_listeners()
    register_all(app)
    return app


def slack_http_session() -> aiohttp.ClientSession:
    """Kept-alive connections to the Slack Web API for the whole process: a busy card burst or a
    morning of digests reuses them instead of a TCP and TLS handshake per call."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def _token_team(settings: Settings, slack: SlackGateway) -> str | None:
    """The bot token's workspace; None for a database-only job. A refused token is raised."""
    if settings.bot_token is None or settings.bot_token.get_secret_value() == NO_TOKEN:
        return None
    return await _workspace_of(slack, refused_raises=True)


async def token_team(env: Mapping[str, str]) -> str | None:
    """The workspace of SLACK_BOT_TOKEN in `env`, if set and Slack answers."""
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        return None
    slack = SlackGateway(make_client(token, env.get("SLACK_API_URL") or DEFAULT_API_URL))
    return await _workspace_of(slack, refused_raises=False)


async def _workspace_of(slack: SlackGateway, *, refused_raises: bool) -> str | None:
    """auth.test's team; None while Slack cannot be reached (the bot serves anyway)."""
    try:
        team_id, _ = await slack.installation()
    except SlackApiError:
        if refused_raises:
            raise
        log.warning("Slack refused SLACK_BOT_TOKEN: its workspace is not known")
        return None
    except (TimeoutError, OSError, SlackClientError) as err:
        log.warning("could not ask Slack which workspace SLACK_BOT_TOKEN is for (%s)", err)
        return None
    return team_id


async def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    tuning: SyncTuning | None = None,
    process_before_response: bool = False,
    raise_error_for_unhandled_request: bool = False,
) -> Runtime:
    """Connect the database (creating the schema if absent, refusing one that is behind:
    store.schema.SchemaBehind) and build the app."""
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    try:
        await create_schema(engine)
    except BaseException:
        await engine.dispose()
        raise
    clock = clock or SystemClock()
    root = uow_factory(make_session_factory(engine))
    http = slack_http_session()
    if settings.many_workspaces:
        app_client = make_client(None, settings.slack_api_url, http)
        oauth = oauth_settings(settings, engine, root, clock, app_client)
        authorize = oauth.authorize
        assert isinstance(oauth.installation_store, EncryptedInstallationStore)
        assert isinstance(authorize, AsyncInstallationStoreAuthorize)
        tenants = tenant_deps(
            settings,
            root,
            clock,
            partial(build_deps, tuning=tuning),
            token_finder(oauth.installation_store, authorize),
            http=http,
        )
        app = create_app(
            settings,
            None,
            process_before_response=process_before_response,
            raise_error_for_unhandled_request=raise_error_for_unhandled_request,
            tenants=tenants,
            oauth=oauth,
            client=app_client,
        )
        return Runtime(app=app, deps=None, engine=engine, tenants=tenants, http=http)
    assert settings.bot_token is not None
    slack = SlackGateway(
        make_client(settings.bot_token.get_secret_value(), settings.slack_api_url, http)
    )
    try:
        team_id = await _token_team(settings, slack)
        tenant_id = await services.single_workspace_tenant(root, team_id=team_id, now=clock.now())
    except BaseException:
        await http.close()
        await engine.dispose()
        raise
    deps = build_deps(
        settings, uow=root.for_tenant(tenant_id), slack=slack, clock=clock, tuning=tuning
    )
    app = create_app(
        settings,
        deps,
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=raise_error_for_unhandled_request,
    )
    return Runtime(app=app, deps=deps, engine=engine, http=http)
