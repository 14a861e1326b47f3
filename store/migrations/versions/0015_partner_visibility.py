"""Whether the partner companies on one deal see each other (by company and role, the default)
or not at all: a tenant's setting, set by its admins in App Home.

Revision ID: 0015_partner_visibility
Revises: 0014_log_to_all
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_partner_visibility"
down_revision = "0014_log_to_all"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column(
                "partners_see_each_other", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("partners_see_each_other")
