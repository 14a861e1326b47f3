"""The partner side of "log to both" may go to the partner company's own connector.

Revision ID: 0010_outbox_target
Revises: 0009_disclosures
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_outbox_target"
down_revision = "0009_disclosures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crm_outbox") as batch:
        batch.add_column(sa.Column("target_tenant", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "crm_outbox_target_tenant_fkey", "tenants", ["target_tenant"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("crm_outbox") as batch:
        batch.drop_constraint("crm_outbox_target_tenant_fkey", type_="foreignkey")
        batch.drop_column("target_tenant")
