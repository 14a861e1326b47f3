"""Tenant settings: CRM connectors set in App Home, and the audit of settings changes.

Revision ID: 0007_tenant_settings
Revises: 0006_installations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_tenant_settings"
down_revision = "0006_installations"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crm_connectors",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(32), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "side", name="crm_connectors_pkey"),
    )
    op.create_index("ix_crm_connectors_tenant_id", "crm_connectors", ["tenant_id"])
    op.create_table(
        "tenant_events",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_tenant_events_tenant_id", "tenant_events", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("tenant_events")
    op.drop_table("crm_connectors")
