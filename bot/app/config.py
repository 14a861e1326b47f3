"""Settings from the environment, exactly as PRODUCT.md "Running it" names them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse, urlsplit

from pydantic import SecretStr


class ConfigError(Exception):
    """A missing or malformed setting; the message names the variable and what is expected."""


DEFAULT_API_URL = "https://slack.com/api/"
# The bot token of a job that never calls Slack (any call it made would be refused).
NO_TOKEN = "xoxb-none"
DEFAULT_DB_URL = "sqlite+aiosqlite:///ptm.db"
USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,20}$")


@dataclass(frozen=True)
class CrmTarget:
    """One side's connector from the environment (PRODUCT.md "CRM connectors")."""

    url: str
    secret: SecretStr
    kind: str = "webhook"
    client_id: str = ""
    webhook_secret: SecretStr | None = None


@dataclass(frozen=True)
class AwsCoSell:
    """AWS co-sell through Partner Central (PRODUCT.md "Co-sell with a cloud marketplace")."""

    solution_id: str
    catalog: str = "Sandbox"
    channel: str | None = None  # where AWS's referrals appear as cards


@dataclass(frozen=True)
class OAuth:
    """Many-workspace mode: PTM is installed with "Add to Slack" by any number of workspaces."""

    client_id: str
    client_secret: SecretStr
    # Fernet keys, newest first: the first encrypts, any of them decrypts (key rotation).
    secret_keys: tuple[SecretStr, ...]
    # SLACK_REDIRECT_URI (Bolt's own variable): where Slack sends the installer back. Its
    # origin also gives the "Add to Slack" page PTM points other companies to.
    redirect_uri: str | None = None

    @property
    def install_url(self) -> str | None:
        if self.redirect_uri is None:
            return None
        parts = urlsplit(self.redirect_uri)
        return f"{parts.scheme}://{parts.netloc}/slack/install"


@dataclass(frozen=True)
class Settings:
    # Single-workspace mode: the bot token. Many-workspace mode: None (tokens come with each
    # installation) and `oauth` is set.
    bot_token: SecretStr | None
    signing_secret: SecretStr | None
    app_token: SecretStr | None
    slack_api_url: str
    database_url: str
    port: int
    digest_hour: int
    admins: frozenset[str]
    crm_ours: CrmTarget | None
    crm_partner: CrmTarget | None
    # The most connections this process opens to PostgreSQL (a burst waits for a free one);
    # processes x this must stay under the server's max_connections.
    db_pool_size: int = 20
    oauth: OAuth | None = None
    # Lets admins point a CRM webhook at http:// or a private address (a local stand-in);
    # off by default: a hosted PTM must not be made to call into its own network.
    crm_allow_private: bool = False
    aws: AwsCoSell | None = None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @property
    def many_workspaces(self) -> bool:
        return self.oauth is not None


def load_settings(env: Mapping[str, str], *, slack: bool = True) -> Settings:
    """Read and validate every setting; raise ConfigError naming the first bad variable.
    `slack=False` is for jobs that only touch the database (`ptm report`, `partners`,
    `outbox`): they run without Slack tokens (any that are set are still checked)."""
    oauth = _oauth(env)
    if oauth is not None:
        return _settings(env, bot_token=None, oauth=oauth)
    if not slack and _optional(env, "SLACK_BOT_TOKEN") is None:
        return load_settings(
            {**env, "SLACK_BOT_TOKEN": NO_TOKEN, "SLACK_SIGNING_SECRET": "unused-by-jobs"}
        )
    return _settings(env, bot_token=SecretStr(_bot_token(env)), oauth=None)


def _settings(
    env: Mapping[str, str], *, bot_token: SecretStr | None, oauth: OAuth | None
) -> Settings:
    app_token = _optional(env, "SLACK_APP_TOKEN")
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    signing = _optional(env, "SLACK_SIGNING_SECRET")
    if app_token is None and signing is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    return Settings(
        bot_token=bot_token,
        signing_secret=SecretStr(signing) if signing else None,
        app_token=SecretStr(app_token) if app_token else None,
        slack_api_url=_api_url(env),
        database_url=_database_url(env),
        port=_int(env, "PORT", 3000, low=1, high=65535),
        digest_hour=_int(env, "PTM_DIGEST_HOUR", 8, low=0, high=23),
        admins=_admins(env),
        crm_ours=_crm(env, "PTM_CRM_OURS"),
        crm_partner=_crm(env, "PTM_CRM_PARTNER"),
        db_pool_size=_int(env, "PTM_DB_POOL_SIZE", 20, low=1, high=200),
        oauth=oauth,
        crm_allow_private=_flag(env, "PTM_CRM_ALLOW_PRIVATE"),
        aws=_aws(env),
    )


def _aws(env: Mapping[str, str]) -> AwsCoSell | None:
    """On with PTM_AWS_SOLUTION_ID; PTM_AWS_CATALOG is Sandbox (trying it) unless AWS."""
    solution = _optional(env, "PTM_AWS_SOLUTION_ID")
    catalog = _optional(env, "PTM_AWS_CATALOG") or "Sandbox"
    if catalog not in ("AWS", "Sandbox"):
        raise ConfigError(f"PTM_AWS_CATALOG must be AWS or Sandbox (got {catalog!r})")
    channel = _optional(env, "PTM_AWS_CHANNEL")
    if channel is not None and not re.fullmatch(r"[CG][A-Z0-9]{2,20}", channel):
        raise ConfigError(
            f"PTM_AWS_CHANNEL must be a Slack channel id like C012AB3CD (got {channel!r})"
        )
    if solution is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", solution):
        raise ConfigError(
            f"PTM_AWS_SOLUTION_ID must be your solution's id in AWS Partner Central, e.g. "
            f"S-0000001 (got {solution[:40]!r})"
        )
    return AwsCoSell(solution_id=solution, catalog=catalog, channel=channel)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (_optional(env, name) or "0").lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"{name} must be 1 or 0 (got {raw!r})")
    return raw in ("1", "true", "yes")


MAKE_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


def _oauth(env: Mapping[str, str]) -> OAuth | None:
    """Many-workspace mode when SLACK_CLIENT_ID is set; every way of mixing the two modes up
    is one clear error (Bolt alone would quietly switch to a file store and ask every user
    to reinstall)."""
    client_id, secret = _optional(env, "SLACK_CLIENT_ID"), _optional(env, "SLACK_CLIENT_SECRET")
    if client_id is None:
        if secret is not None:
            raise ConfigError(
                "SLACK_CLIENT_SECRET is set without SLACK_CLIENT_ID: set both for many "
                "workspaces (OAuth), or neither for one workspace (SLACK_BOT_TOKEN)"
            )
        return None
    if _optional(env, "SLACK_BOT_TOKEN") is not None:
        raise ConfigError(
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: choose one workspace "
            "(SLACK_BOT_TOKEN) or many (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, OAuth)"
        )
    if secret is None:
        raise ConfigError("SLACK_CLIENT_SECRET is required with SLACK_CLIENT_ID (many workspaces)")
    if not re.fullmatch(r"\d+\.\d+", client_id):
        raise ConfigError(
            "SLACK_CLIENT_ID must be the app's client id, like 1234567890.1234567890 "
            "(Basic Information in the app's settings)"
        )
    if _optional(env, "SLACK_APP_TOKEN") is not None:
        raise ConfigError(
            "SLACK_APP_TOKEN (Socket Mode) serves one workspace: many workspaces (OAuth) need "
            "HTTP mode — unset SLACK_APP_TOKEN"
        )
    if _optional(env, "SLACK_SIGNING_SECRET") is None:
        raise ConfigError("SLACK_SIGNING_SECRET is required in many-workspace (OAuth) mode")
    return OAuth(client_id, SecretStr(secret), _secret_keys(env), _redirect_uri(env))


def _redirect_uri(env: Mapping[str, str]) -> str | None:
    raw = _optional(env, "SLACK_REDIRECT_URI")
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            "SLACK_REDIRECT_URI must be the https address Slack sends installers back to, like "
            f"https://ptm.example.com/slack/oauth_redirect (got {raw[:80]!r})"
        )
    return raw


def _secret_keys(env: Mapping[str, str]) -> tuple[SecretStr, ...]:
    raw = _optional(env, "PTM_SECRET_KEY")
    if raw is None:
        raise ConfigError(
            "PTM_SECRET_KEY is required in many-workspace (OAuth) mode: it encrypts the stored "
            f"tokens. Make one with: {MAKE_KEY}"
        )
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for key in keys:
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}=", key):
            raise ConfigError(
                "PTM_SECRET_KEY must be a Fernet key (44 characters of URL-safe base64), or "
                f"several separated by commas, newest first. Make one with: {MAKE_KEY}"
            )
    return tuple(SecretStr(k) for k in keys)


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _bot_token(env: Mapping[str, str]) -> str:
    token = _optional(env, "SLACK_BOT_TOKEN")
    if token is None:
        raise ConfigError("SLACK_BOT_TOKEN is required: the bot token (xoxb-…) of the Slack app")
    if not token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    return token


def _api_url(env: Mapping[str, str]) -> str:
    url = _optional(env, "SLACK_API_URL") or DEFAULT_API_URL
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL such as {DEFAULT_API_URL}")
    return url if url.endswith("/") else url + "/"


def database_url(env: Mapping[str, str]) -> str:
    """DATABASE_URL alone (for `ptm db upgrade`, which needs no Slack settings)."""
    return _database_url(env)


# The forms hosting platforms hand out, and the async driver PTM runs them on.
_PLAIN_SCHEMES = {
    "postgres://": "postgresql+asyncpg://",
    "postgresql://": "postgresql+asyncpg://",
    "sqlite:///": "sqlite+aiosqlite:///",
}


def _database_url(env: Mapping[str, str]) -> str:
    url = _optional(env, "DATABASE_URL") or DEFAULT_DB_URL
    for plain, driver in _PLAIN_SCHEMES.items():
        if url.startswith(plain):
            url = driver + url[len(plain) :]
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "DATABASE_URL must be an async SQLAlchemy URL: sqlite+aiosqlite:///FILE "
            "or postgresql+asyncpg://USER@HOST/DB"
        )
    return url


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = _optional(env, name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high} (got {raw!r})")
    return int(raw)


def _admins(env: Mapping[str, str]) -> frozenset[str]:
    ids = [part.strip() for part in env.get("PTM_ADMINS", "").split(",") if part.strip()]
    bad = [i for i in ids if not USER_ID_RE.fullmatch(i)]
    if bad:
        raise ConfigError(
            f"PTM_ADMINS must be comma-separated Slack user ids like U012AB3CD (got {bad[0]!r})"
        )
    return frozenset(ids)


CRM_KINDS = ("webhook", "salesforce", "hubspot")
HUBSPOT_API = "https://api.hubapi.com"


def _crm(env: Mapping[str, str], prefix: str) -> CrmTarget | None:
    """`<prefix>_KIND` (webhook, salesforce, hubspot; default webhook) with its `_URL`,
    `_SECRET`, and `_CLIENT_ID` (Salesforce) and `_WEBHOOK_SECRET` (inbound changes)."""
    kind = (_optional(env, f"{prefix}_KIND") or "webhook").lower()
    if kind not in CRM_KINDS:
        raise ConfigError(f"{prefix}_KIND must be one of {', '.join(CRM_KINDS)} (got {kind!r})")
    url, secret = _optional(env, f"{prefix}_URL"), _optional(env, f"{prefix}_SECRET")
    if kind == "hubspot" and url is None:
        url = HUBSPOT_API
    if url is None:
        if kind != "webhook":
            raise ConfigError(f"{prefix}_URL is required for a {kind} connector ({_URL_OF[kind]})")
        return None
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ConfigError(f"{prefix}_URL must be an http(s) URL ({_URL_OF[kind]})")
    if secret is None:
        when = f"when {prefix}_URL is set" if kind == "webhook" else f"for a {kind} connector"
        raise ConfigError(f"{prefix}_SECRET is required {when} ({_SECRET_OF[kind]})")
    client_id = _optional(env, f"{prefix}_CLIENT_ID") or ""
    if kind == "salesforce" and not client_id:
        raise ConfigError(
            f"{prefix}_CLIENT_ID is required for Salesforce "
            "(the External Client App's consumer key)"
        )
    inbound = _optional(env, f"{prefix}_WEBHOOK_SECRET")
    return CrmTarget(
        url=url.rstrip("/"),
        secret=SecretStr(secret),
        kind=kind,
        client_id=client_id,
        webhook_secret=SecretStr(inbound) if inbound else None,
    )


_URL_OF = {
    "webhook": "the CRM webhook target",
    "salesforce": "the instance URL, e.g. https://acme.my.salesforce.com",
    "hubspot": f"the API base, default {HUBSPOT_API}",
}
_SECRET_OF = {
    "webhook": "HMAC key",
    "salesforce": "the External Client App's consumer secret",
    "hubspot": "the private app's access token",
}
