"""AWS co-sell: each deal's submission to AWS Partner Central (its form, how far it got, what
AWS says of it), and AWS's referrals (engagement invitations) shown as cards.

Revision ID: 0017_aws_cosell
Revises: 0016_crm_connectors
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_aws_cosell"
down_revision = "0016_crm_connectors"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "aws_submissions",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("client_token", sa.String(64), nullable=False),
        sa.Column("step", sa.String(12), nullable=False),
        sa.Column("opportunity_id", sa.String(40), nullable=True),
        sa.Column("task_id", sa.String(100), nullable=True),
        sa.Column("task_status", sa.String(16), nullable=False),
        sa.Column("task_reason", sa.String(300), nullable=False),
        sa.Column("review_status", sa.String(30), nullable=False),
        sa.Column("aws_stage", sa.String(30), nullable=False),
        sa.Column("aws_seller", sa.String(200), nullable=False),
        sa.Column("aws_modified_at", UTC_TIME, nullable=True),
        sa.Column("problem", sa.String(300), nullable=False),
        sa.Column("submitted_by", sa.String(32), nullable=True),
        sa.Column("submitted_at", UTC_TIME, nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("tenant_id", "deal_id"),
    )
    op.create_index("ix_aws_submissions_tenant_id", "aws_submissions", ["tenant_id"])
    op.create_table(
        "aws_invitations",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("invitation_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("company", sa.String(300), nullable=False),
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("client_token", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=True),
        sa.Column("acted_by", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("tenant_id", "invitation_id"),
    )
    op.create_index("ix_aws_invitations_tenant_id", "aws_invitations", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_aws_invitations_tenant_id", table_name="aws_invitations")
    op.drop_table("aws_invitations")
    op.drop_index("ix_aws_submissions_tenant_id", table_name="aws_submissions")
    op.drop_table("aws_submissions")
