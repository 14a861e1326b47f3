"""CRM connectors (Salesforce, HubSpot): deals linked to CRM records, write-backs through the
outbox (`kind` "update", no outcome), and each side's connector health and last
reconciliation. Existing outbox rows are outcomes; nothing else changes.

Revision ID: 0016_crm_connectors
Revises: 0015_partner_visibility
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_crm_connectors"
down_revision = "0015_partner_visibility"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("crm_outbox") as batch:
        batch.add_column(sa.Column("kind", sa.String(10), nullable=False, server_default="outcome"))
        batch.alter_column("outcome_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("crm_connectors") as batch:
        batch.add_column(sa.Column("client_id", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("webhook_secret", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "crm_links",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=False),
        sa.Column("side", sa.String(10), nullable=False),
        sa.Column("company", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(40), nullable=False),
        sa.Column("modified_at", UTC_TIME, nullable=False),
        sa.Column("linked_by", sa.String(32), nullable=False),
        sa.Column("linked_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("deal_id", "side", "company", name="crm_links_deal_side_company_key"),
    )
    op.create_index("ix_crm_links_tenant_id", "crm_links", ["tenant_id"])
    op.create_index("ix_crm_links_kind_record", "crm_links", ["kind", "record_id"])
    op.create_table(
        "crm_health",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("side", sa.String(10), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.Column("reconciled_at", UTC_TIME, nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "side"),
    )
    op.create_index("ix_crm_health_tenant_id", "crm_health", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_crm_health_tenant_id", table_name="crm_health")
    op.drop_table("crm_health")
    op.drop_index("ix_crm_links_kind_record", table_name="crm_links")
    op.drop_index("ix_crm_links_tenant_id", table_name="crm_links")
    op.drop_table("crm_links")
    with op.batch_alter_table("crm_connectors") as batch:
        batch.drop_column("webhook_secret")
        batch.drop_column("client_id")
    op.execute("DELETE FROM crm_outbox WHERE outcome_id IS NULL")
    with op.batch_alter_table("crm_outbox") as batch:
        batch.alter_column("outcome_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("kind")
