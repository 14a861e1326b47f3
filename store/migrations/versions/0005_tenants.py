"""Tenants: every company's rows carry their tenant; deal numbers are the tenant's own.

A database with data becomes a one-tenant database: tenant 1, its workspace not named yet
(`ptm db upgrade --team-id T…`, or the bot names it after its token's team at its next start),
every row its own, every deal keeping its key (PTM-<n> is now the tenant's deal number n).

Tables whose keys change (a channel id, a Slack user id or an event id is only unique within a
workspace) are rebuilt: copied aside, created anew with their final names, refilled. The others
gain the column in place.

Revision ID: 0005_tenants
Revises: 0004_mention_inbox
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0005_tenants"
down_revision = "0004_mention_inbox"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
FIRST_TENANT = 1


def _tenant_column(**kw: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False, **kw)


# The rebuilt tables as they are from this revision on: (columns and constraints, indexes).
REBUILT: dict[str, Callable[[], tuple[list[sa.SchemaItem], list[tuple[str, list[str]]]]]] = {
    "channels": lambda: (
        [
            _tenant_column(),
            sa.Column("channel_id", sa.String(32), nullable=False),
            sa.Column("is_ext_shared", sa.Boolean(), nullable=True),
            sa.Column("checked_at", TZ, nullable=False),
            sa.PrimaryKeyConstraint("tenant_id", "channel_id", name="channels_pkey"),
        ],
        [("ix_channels_tenant_id", ["tenant_id"])],
    ),
    "channel_bindings": lambda: (
        [
            _tenant_column(),
            sa.Column("channel_id", sa.String(32), nullable=False),
            sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=False),
            sa.Column("bound_by", sa.String(32), nullable=False),
            sa.Column("bound_at", TZ, nullable=False),
            sa.PrimaryKeyConstraint("tenant_id", "channel_id", name="channel_bindings_pkey"),
        ],
        [
            ("ix_channel_bindings_tenant_id", ["tenant_id"]),
            ("ix_channel_bindings_deal_id", ["deal_id"]),
        ],
    ),
    "processed_events": lambda: (
        [
            _tenant_column(),
            sa.Column("event_id", sa.String(64), nullable=False),
            sa.Column("received_at", TZ, nullable=False),
            sa.Column("payload", sa.Text(), nullable=True),
            sa.Column("done", sa.Boolean(), nullable=False, server_default=sa.true()),
            sa.Column("lease_until", TZ, nullable=True),
            sa.PrimaryKeyConstraint("tenant_id", "event_id", name="processed_events_pkey"),
        ],
        [
            ("ix_processed_events_tenant_id", ["tenant_id"]),
            ("ix_processed_events_received_at", ["received_at"]),
        ],
    ),
    "user_prefs": lambda: (
        [
            _tenant_column(),
            sa.Column("user_id", sa.String(32), nullable=False),
            sa.Column("tz", sa.String(64), nullable=True),
            sa.Column("tz_checked_at", TZ, nullable=True),
            sa.Column("digests_paused", sa.Boolean(), nullable=False),
            sa.Column("home_opened_at", TZ, nullable=True),
            sa.PrimaryKeyConstraint("tenant_id", "user_id", name="user_prefs_pkey"),
        ],
        [("ix_user_prefs_tenant_id", ["tenant_id"])],
    ),
    "digest_runs": lambda: (
        [
            _tenant_column(),
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("user_id", sa.String(32), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("lease_until", TZ, nullable=True),
            sa.Column("claimed_by", sa.String(64), nullable=True),
            sa.Column("created_at", TZ, nullable=False),
            sa.Column("finished_at", TZ, nullable=True),
            sa.PrimaryKeyConstraint("id", name="digest_runs_pkey"),
            sa.UniqueConstraint(
                "tenant_id", "user_id", "day", name="digest_runs_tenant_id_user_id_day_key"
            ),
        ],
        [("ix_digest_runs_tenant_id", ["tenant_id"]), ("ix_digest_runs_status", ["status"])],
    ),
    "partners": lambda: (
        [
            _tenant_column(),
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("name_key", sa.String(300), nullable=False),
            sa.Column("name", sa.String(300), nullable=False),
            sa.Column("industries", sa.JSON(), nullable=False),
            sa.Column("buyer_levels", sa.JSON(), nullable=False),
            sa.Column("competencies", sa.JSON(), nullable=False),
            sa.Column("geographies", sa.JSON(), nullable=False),
            sa.Column("contacts", sa.JSON(), nullable=False),
            sa.Column("slack_team_id", sa.String(32), nullable=True),
            sa.Column("updated_at", TZ, nullable=False),
            sa.PrimaryKeyConstraint("id", name="partners_pkey"),
            sa.UniqueConstraint("tenant_id", "name_key", name="partners_tenant_id_name_key_key"),
        ],
        [("ix_partners_tenant_id", ["tenant_id"])],
    ),
    "card_copies": lambda: (
        [
            _tenant_column(),
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=False),
            sa.Column("channel_id", sa.String(32), nullable=False),
            sa.Column("ts", sa.String(32), nullable=False),
            sa.Column("is_shared", sa.Boolean(), nullable=True),
            sa.Column("rendered_version", sa.Integer(), nullable=False),
            sa.Column("posted_by", sa.String(32), nullable=False),
            sa.Column("posted_at", TZ, nullable=False),
            sa.PrimaryKeyConstraint("id", name="card_copies_pkey"),
            sa.UniqueConstraint(
                "tenant_id", "channel_id", "ts", name="card_copies_tenant_id_channel_id_ts_key"
            ),
        ],
        [("ix_card_copies_tenant_id", ["tenant_id"]), ("ix_card_copies_deal_id", ["deal_id"])],
    ),
}
WITH_SERIAL_ID = ("digest_runs", "partners", "card_copies")
GAIN_COLUMN = (
    "deals",
    "trio_members",
    "next_steps",
    "deal_events",
    "room_activity",
    "nudge_runs",
    "outcomes",
    "crm_outbox",
)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=True),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("next_deal_number", sa.Integer(), nullable=False),
        sa.Column("digest_hour", sa.Integer(), nullable=True),
        sa.Column("installed_by", sa.String(32), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="tenants_pkey"),
        sa.UniqueConstraint("team_id", name="tenants_team_id_key"),
    )
    op.create_table(
        "tenant_admins",
        _tenant_column(),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("added_by", sa.String(32), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="tenant_admins_pkey"),
    )
    op.create_index("ix_tenant_admins_tenant_id", "tenant_admins", ["tenant_id"])

    if _has_data(bind):
        last = bind.scalar(sa.text("SELECT coalesce(max(id), 0) FROM deals"))
        bind.execute(
            sa.text(
                "INSERT INTO tenants (id, team_id, name, next_deal_number, created_at) "
                "VALUES (:id, NULL, '', :next, CURRENT_TIMESTAMP)"
            ),
            {"id": FIRST_TENANT, "next": int(last or 0) + 1},
        )
        if postgres:
            bind.execute(sa.text("SELECT setval('tenants_id_seq', 1)"))
            # Deal ids stay unique however the rows got there (a restored dump, by hand).
            bind.execute(
                sa.text(
                    "SELECT setval('deals_id_seq', GREATEST((SELECT max(id) FROM deals), "
                    "(SELECT last_value FROM deals_id_seq)))"
                )
            )

    for table in GAIN_COLUMN:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
            if table == "deals":
                batch.add_column(sa.Column("number", sa.Integer(), nullable=True))
        bind.execute(sa.text(f"UPDATE {table} SET tenant_id = {FIRST_TENANT}"))  # noqa: S608
        if table == "deals":
            bind.execute(sa.text("UPDATE deals SET number = id"))
        with op.batch_alter_table(
            table, naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
        ) as batch:
            batch.alter_column("tenant_id", existing_type=sa.Integer(), nullable=False)
            batch.create_foreign_key(f"{table}_tenant_id_fkey", "tenants", ["tenant_id"], ["id"])
            batch.create_index(f"ix_{table}_tenant_id", ["tenant_id"])
            if table == "deals":
                batch.alter_column("number", existing_type=sa.Integer(), nullable=False)
                batch.alter_column("key", existing_type=sa.String(20), nullable=False)
                batch.drop_constraint("deals_key_key" if postgres else "uq_deals_key", "unique")
                batch.create_unique_constraint(
                    "deals_tenant_id_number_key", ["tenant_id", "number"]
                )

    for table, definition in REBUILT.items():
        _rebuild(table, *definition(), postgres=postgres)


def _has_data(bind: sa.Connection) -> bool:
    tables = ["deals", "partners", "user_prefs", "processed_events", "channels"]
    return any(bind.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in tables)  # noqa: S608


def _rebuild(
    table: str,
    items: list[sa.SchemaItem],
    indexes: list[tuple[str, list[str]]],
    *,
    postgres: bool,
) -> None:
    """Copy the rows aside, create the table anew (its final name, keys and indexes), refill
    it with every row as tenant 1's. Nothing references these tables, so dropping is safe."""
    bind = op.get_bind()
    aside = f"{table}__before_tenants"
    bind.execute(sa.text(f"CREATE TABLE {aside} AS SELECT * FROM {table}"))  # noqa: S608
    op.drop_table(table)
    op.create_table(table, *items)
    for name, columns in indexes:
        op.create_index(name, table, columns)
    columns = [c.name for c in items if isinstance(c, sa.Column) and c.name != "tenant_id"]
    listed = ", ".join(columns)
    bind.execute(
        sa.text(
            f"INSERT INTO {table} (tenant_id, {listed}) "  # noqa: S608
            f"SELECT {FIRST_TENANT}, {listed} FROM {aside}"
        )
    )
    op.drop_table(aside)
    if postgres and table in WITH_SERIAL_ID:
        bind.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        )


def downgrade() -> None:
    raise NotImplementedError("a tenant's data cannot be folded back into one workspace")
