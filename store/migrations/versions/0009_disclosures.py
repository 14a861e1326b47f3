"""The disclosure ledger: what of a deal was shown or sent outside its tenant, and to whom.

Revision ID: 0009_disclosures
Revises: 0008_partnerships
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_disclosures"
down_revision = "0008_partnerships"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disclosures",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=False),
        sa.Column("field", sa.String(30), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("surface", sa.String(20), nullable=False),
        sa.Column("receiving_team", sa.String(32), nullable=False),
        sa.Column("receiving_company", sa.String(200), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "tenant_id", "deal_id", "field", "version", "surface", "receiving_team"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_disclosures_tenant_id", "disclosures", ["tenant_id"])
    op.create_index("ix_disclosures_deal_id", "disclosures", ["deal_id"])
    op.create_index("ix_disclosures_tenant_at", "disclosures", ["tenant_id", "at"])


def downgrade() -> None:
    op.drop_table("disclosures")
