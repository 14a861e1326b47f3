"""Card-update leases: one process at a time updates a deal's card copies.

Revision ID: 0003_card_sync_leases
Revises: 0002_measure
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_card_sync_leases"
down_revision = "0002_measure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_sync_leases",
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dirty", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("deal_id"),
    )


def downgrade() -> None:
    op.drop_table("card_sync_leases")
