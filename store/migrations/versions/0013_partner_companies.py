"""Several partner companies on one deal: a deal keeps one seller and one alliance manager, and
any number of partner reps, each with their company's role on the deal. One-partner deals are
unchanged (their partner rep keeps its row; its role on the deal is unset).

Revision ID: 0013_partner_companies
Revises: 0012_own_deal_fields
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_partner_companies"
down_revision = "0012_own_deal_fields"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table(
        "trio_members", naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
    ) as batch:
        batch.add_column(sa.Column("partner_kind", sa.String(10), nullable=True))
        batch.drop_constraint(
            "trio_members_deal_id_role_key" if postgres else "uq_trio_members_deal_id", "unique"
        )
        batch.create_unique_constraint(
            "trio_members_deal_role_user_key", ["deal_id", "role", "user_id"]
        )
    op.create_index(
        "one_seller_and_alliance_per_deal",
        "trio_members",
        ["deal_id", "role"],
        unique=True,
        sqlite_where=sa.text("role != 'partner'"),
        postgresql_where=sa.text("role != 'partner'"),
    )


def downgrade() -> None:
    op.drop_index("one_seller_and_alliance_per_deal", table_name="trio_members")
    with op.batch_alter_table("trio_members") as batch:
        batch.drop_constraint("trio_members_deal_role_user_key", "unique")
        batch.create_unique_constraint("trio_members_deal_id_role_key", ["deal_id", "role"])
        batch.drop_column("partner_kind")
