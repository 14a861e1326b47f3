"""Each workspace's Slack rate budget (chat.update's Tier 3), shared by every PTM process.

Revision ID: 0019_slack_budgets
Revises: 0018_partner_stamp_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_slack_budgets"
down_revision = "0018_partner_stamp_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_budgets",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "method"),
    )
    op.create_index("ix_slack_budgets_tenant_id", "slack_budgets", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_slack_budgets_tenant_id", table_name="slack_budgets")
    op.drop_table("slack_budgets")
