"""The tables of Slack's installation and OAuth state stores, in PTM's own schema (created by
migration 0006 like every other table). Their columns are slack_sdk's
(`AsyncSQLAlchemyInstallationStore.build_*_table`, `AsyncSQLAlchemyOAuthStateStore`) except the
token columns, which are wider: they hold ciphertext (`bot.adapters.installations`), and a
rotating token's ciphertext is longer than slack_sdk's 200 characters."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Text
from sqlmodel import SQLModel

INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"

INSTALLATIONS = sa.Table(
    INSTALLATIONS_TABLE,
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", Text),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", Text),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", Text),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", Text),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False),
    Index(
        f"{INSTALLATIONS_TABLE}_idx", "client_id", "enterprise_id", "team_id", "user_id",
        "installed_at",
    ),
)  # fmt: skip

BOTS = sa.Table(
    BOTS_TABLE,
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", Text),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", Text),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("installed_at", DateTime, nullable=False),
    Index(f"{BOTS_TABLE}_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

OAUTH_STATES = sa.Table(
    OAUTH_STATES_TABLE,
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
