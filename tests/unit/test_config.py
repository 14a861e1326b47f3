"""Settings exactly as PRODUCT.md names them; bad ones name the variable and what is expected."""

from __future__ import annotations

import pytest

from bot.app.config import ConfigError, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def test_defaults() -> None:
    s = load_settings(BASE)
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.database_url == "sqlite+aiosqlite:///ptm.db"
    assert (s.port, s.digest_hour, s.admins, s.socket_mode) == (3000, 8, frozenset(), False)
    assert s.crm_ours is None and s.crm_partner is None
    assert "xoxb-1" not in repr(s)


def test_everything_set() -> None:
    s = load_settings(
        {
            **BASE,
            "SLACK_APP_TOKEN": "xapp-1",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test",
            "PORT": "8080",
            "PTM_DIGEST_HOUR": "0",
            "PTM_ADMINS": "U0A, W0B ,",
            "PTM_CRM_OURS_URL": "https://crm/x",
            "PTM_CRM_OURS_SECRET": "k",
            "PTM_DB_POOL_SIZE": "4",
        }
    )
    assert s.db_pool_size == 4
    assert s.socket_mode and s.slack_api_url == "http://127.0.0.1:9/api/"
    assert s.port == 8080 and s.digest_hour == 0 and s.admins == {"U0A", "W0B"}
    assert s.crm_ours is not None and s.crm_ours.url == "https://crm/x"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        ({**BASE, "SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({**BASE, "SLACK_APP_TOKEN": "xoxb-2"}, "SLACK_APP_TOKEN"),
        ({**BASE, "SLACK_API_URL": "slack.com"}, "SLACK_API_URL"),
        ({**BASE, "DATABASE_URL": "mysql://root@localhost/ptm"}, "DATABASE_URL"),
        ({**BASE, "PORT": "http"}, "PORT"),
        ({**BASE, "PORT": "70000"}, "PORT"),
        ({**BASE, "PTM_DIGEST_HOUR": "24"}, "PTM_DIGEST_HOUR"),
        ({**BASE, "PTM_ADMINS": "alice"}, "PTM_ADMINS"),
        ({**BASE, "PTM_DB_POOL_SIZE": "0"}, "PTM_DB_POOL_SIZE"),
        ({**BASE, "PTM_CRM_PARTNER_URL": "https://crm"}, "PTM_CRM_PARTNER_SECRET"),
        ({**BASE, "PTM_CRM_OURS_URL": "ftp://x", "PTM_CRM_OURS_SECRET": "k"}, "PTM_CRM_OURS_URL"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert str(err.value).startswith(variable) and "\n" not in str(err.value)


KEY = "q" * 43 + "="
MANY = {
    "SLACK_CLIENT_ID": "1111.2222",
    "SLACK_CLIENT_SECRET": "shh",
    "SLACK_SIGNING_SECRET": "s",
    "PTM_SECRET_KEY": KEY,
}


def test_many_workspaces_is_chosen_by_the_client_id() -> None:
    s = load_settings(MANY)
    assert s.many_workspaces and s.bot_token is None and s.oauth is not None
    assert s.oauth.client_id == "1111.2222" and len(s.oauth.secret_keys) == 1
    assert "shh" not in repr(s) and KEY not in repr(s)
    rotated = load_settings({**MANY, "PTM_SECRET_KEY": f"{'n' * 43}=, {KEY}"})
    assert rotated.oauth is not None and len(rotated.oauth.secret_keys) == 2
    assert not load_settings(BASE).many_workspaces
    assert s.oauth.install_url is None  # PTM does not know its own address
    served = load_settings(
        {**MANY, "SLACK_REDIRECT_URI": "https://ptm.example.com/slack/oauth_redirect"}
    )
    assert served.oauth is not None
    assert served.oauth.install_url == "https://ptm.example.com/slack/install"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({**MANY, "SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_BOT_TOKEN and SLACK_CLIENT_ID"),
        ({**BASE, "SLACK_CLIENT_ID": "1111.2222"}, "SLACK_BOT_TOKEN and SLACK_CLIENT_ID"),
        ({**BASE, "SLACK_CLIENT_SECRET": "shh"}, "SLACK_CLIENT_SECRET"),
        ({k: v for k, v in MANY.items() if k != "SLACK_CLIENT_SECRET"}, "SLACK_CLIENT_SECRET"),
        ({k: v for k, v in MANY.items() if k != "PTM_SECRET_KEY"}, "PTM_SECRET_KEY"),
        ({**MANY, "PTM_SECRET_KEY": "hunter2"}, "PTM_SECRET_KEY"),
        ({**MANY, "SLACK_APP_TOKEN": "xapp-1"}, "SLACK_APP_TOKEN"),
        ({k: v for k, v in MANY.items() if k != "SLACK_SIGNING_SECRET"}, "SLACK_SIGNING_SECRET"),
        ({**MANY, "SLACK_CLIENT_ID": "my-app"}, "SLACK_CLIENT_ID"),
        ({**MANY, "SLACK_REDIRECT_URI": "ptm.example.com/slack"}, "SLACK_REDIRECT_URI"),
    ],
)
def test_mixed_or_incomplete_modes_are_one_clear_error(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert str(err.value).startswith(variable) and "\n" not in str(err.value)


def test_socket_mode_needs_no_signing_secret() -> None:
    assert load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}).socket_mode


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db.example:5432/ptm", "postgresql+asyncpg://u:p@db.example:5432/ptm"),
        ("postgres://u@db/ptm", "postgresql+asyncpg://u@db/ptm"),
        ("sqlite:///ptm.db", "sqlite+aiosqlite:///ptm.db"),
    ],
)
def test_the_database_url_forms_hosting_platforms_give_are_accepted(given: str, used: str) -> None:
    assert load_settings({**BASE, "DATABASE_URL": given}).database_url == used


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (
            {"PTM_CRM_OURS_KIND": "oracle"},
            "PTM_CRM_OURS_KIND must be one of webhook, salesforce, hubspot",
        ),
        (
            {"PTM_CRM_OURS_KIND": "hubspot"},
            "PTM_CRM_OURS_SECRET is required for a hubspot connector",
        ),
        (
            {
                "PTM_CRM_PARTNER_KIND": "salesforce",
                "PTM_CRM_PARTNER_URL": "https://a.my.salesforce.com",
                "PTM_CRM_PARTNER_SECRET": "x",
            },
            "PTM_CRM_PARTNER_CLIENT_ID is required for Salesforce",
        ),
        (
            {"PTM_CRM_OURS_KIND": "salesforce"},
            "PTM_CRM_OURS_URL is required for a salesforce connector",
        ),
        (
            {"PTM_AWS_SOLUTION_ID": "S-1", "PTM_AWS_CATALOG": "prod"},
            "PTM_AWS_CATALOG must be AWS or Sandbox",
        ),
        ({"PTM_AWS_SOLUTION_ID": "bad id!"}, "PTM_AWS_SOLUTION_ID must be your solution's id"),
        (
            {"PTM_AWS_SOLUTION_ID": "S-1", "PTM_AWS_CHANNEL": "general"},
            "PTM_AWS_CHANNEL must be a Slack channel id",
        ),
    ],
)
def test_crm_and_aws_settings_are_checked(extra: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**BASE, **extra})
    assert said in str(refused.value)


def test_crm_and_aws_settings_as_given() -> None:
    s = load_settings(
        {**BASE, "PTM_CRM_OURS_KIND": "HubSpot", "PTM_CRM_OURS_SECRET": "pat-1",
         "PTM_CRM_OURS_WEBHOOK_SECRET": "w" * 20, "PTM_AWS_SOLUTION_ID": "S-0000001"}
    )  # fmt: skip
    assert s.crm_ours is not None and (s.crm_ours.kind, s.crm_ours.url) == (
        "hubspot",
        "https://api.hubapi.com",
    )
    assert s.aws is not None and (s.aws.catalog, s.aws.channel) == ("Sandbox", None)
