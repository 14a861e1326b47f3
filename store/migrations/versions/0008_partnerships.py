"""Partnerships between two tenants and the audit of their every move.

Revision ID: 0008_partnerships
Revises: 0007_tenant_settings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_partnerships"
down_revision = "0007_tenant_settings"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partnerships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposer_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("proposer_shares", sa.JSON(), nullable=False),
        sa.Column("partner_shares", sa.JSON(), nullable=False),
        sa.Column("paused_by", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("proposed_by", sa.String(32), nullable=False),
        sa.Column("proposed_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_partnerships_proposer_id", "partnerships", ["proposer_id"])
    op.create_index("ix_partnerships_partner_id", "partnerships", ["partner_id"])
    op.create_table(
        "partnership_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), sa.ForeignKey("partnerships.id"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_partnership_events_partnership_id", "partnership_events", ["partnership_id"]
    )


def downgrade() -> None:
    op.drop_table("partnership_events")
    op.drop_table("partnerships")
