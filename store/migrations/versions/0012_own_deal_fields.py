"""A partner company's own internal fields on a deal another company shares with it.

Revision ID: 0012_own_deal_fields
Revises: 0011_routing_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_own_deal_fields"
down_revision = "0011_routing_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "own_deal_fields",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("home_tenant", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=False),
        sa.Column("internal_notes", sa.Text(), nullable=False),
        sa.Column("forecast_category", sa.String(20), nullable=True),
        sa.Column("crm_id", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "deal_id"),
    )
    op.create_index("ix_own_deal_fields_tenant_id", "own_deal_fields", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_own_deal_fields_tenant_id", table_name="own_deal_fields")
    op.drop_table("own_deal_fields")
