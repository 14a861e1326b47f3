"""Measure: when a deal closed (and why it was lost), deal-room activity by day, and the
indexes the metrics read through.

Revision ID: 0002_measure
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_measure"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("deal_id", "user_id", "day"),
    )
    with op.batch_alter_table("room_activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_activity_day"), ["day"], unique=False)

    with op.batch_alter_table("deal_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_events_deal_id"))
        batch_op.create_index(batch_op.f("ix_deal_events_at"), ["at"], unique=False)
        batch_op.create_index(
            "ix_deal_events_deal_actor_at", ["deal_id", "actor", "at"], unique=False
        )

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("close_reason", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.create_index(batch_op.f("ix_deals_closed_at"), ["closed_at"], unique=False)

    with op.batch_alter_table("trio_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trio_members_deal_id"))
        batch_op.create_index(
            "ix_trio_members_deal_role_user", ["deal_id", "role", "user_id"], unique=False
        )

    # Deals closed before this revision: the time of the last audited status change, else the
    # last change of the deal.
    deals = sa.table(
        "deals",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("closed_at", sa.DateTime(timezone=True)),
    )
    events = sa.table(
        "deal_events",
        sa.column("deal_id", sa.Integer),
        sa.column("changes", sa.JSON),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    status_changed = (
        sa.select(sa.func.max(events.c.at))
        .where(
            events.c.deal_id == deals.c.id,
            sa.cast(events.c.changes, sa.Text).like('%"status"%'),
        )
        .scalar_subquery()
    )
    op.execute(
        deals.update()
        .where(deals.c.status != "open")
        .values(closed_at=sa.func.coalesce(status_changed, deals.c.updated_at))
    )


def downgrade() -> None:
    with op.batch_alter_table("trio_members", schema=None) as batch_op:
        batch_op.drop_index("ix_trio_members_deal_role_user")
        batch_op.create_index(batch_op.f("ix_trio_members_deal_id"), ["deal_id"], unique=False)

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deals_closed_at"))
        batch_op.drop_column("close_reason")
        batch_op.drop_column("closed_at")

    with op.batch_alter_table("deal_events", schema=None) as batch_op:
        batch_op.drop_index("ix_deal_events_deal_actor_at")
        batch_op.drop_index(batch_op.f("ix_deal_events_at"))
        batch_op.create_index(batch_op.f("ix_deal_events_deal_id"), ["deal_id"], unique=False)

    with op.batch_alter_table("room_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_activity_day"))

    op.drop_table("room_activity")
