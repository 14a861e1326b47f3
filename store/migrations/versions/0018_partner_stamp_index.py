"""The capability map's stamp (its newest partner and last update) read from an index instead
of a scan of the map: `/ptm find` asks it on every search.

Revision ID: 0018_partner_stamp_index
Revises: 0017_aws_cosell
"""

from __future__ import annotations

from alembic import op

revision = "0018_partner_stamp_index"
down_revision = "0017_aws_cosell"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_partners_tenant_updated", "partners", ["tenant_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_partners_tenant_updated", table_name="partners")
