"""Log to all: the partner side of an outcome is one delivery per partner company on the deal
(`company`: its Slack team, or its rep's user id while the team is unknown; "" for our side and
for deliveries queued before). Existing rows are unchanged.

Revision ID: 0014_log_to_all
Revises: 0013_partner_companies
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_log_to_all"
down_revision = "0013_partner_companies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table(
        "crm_outbox", naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
    ) as batch:
        batch.add_column(sa.Column("company", sa.String(32), nullable=False, server_default=""))
        batch.drop_constraint(
            "crm_outbox_outcome_id_side_key" if postgres else "uq_crm_outbox_outcome_id", "unique"
        )
        batch.create_unique_constraint(
            "crm_outbox_outcome_side_company_key", ["outcome_id", "side", "company"]
        )


def downgrade() -> None:
    with op.batch_alter_table("crm_outbox") as batch:
        batch.drop_constraint("crm_outbox_outcome_side_company_key", "unique")
        batch.create_unique_constraint("crm_outbox_outcome_id_side_key", ["outcome_id", "side"])
        batch.drop_column("company")
