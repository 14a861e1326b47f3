"""Mentions kept until applied: a received @PTM message waits in processed_events (with the
event, a lease while one process works on it) until it is applied and answered.

Revision ID: 0004_mention_inbox
Revises: 0003_card_sync_leases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_mention_inbox"
down_revision = "0003_card_sync_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_events") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.add_column(sa.Column("done", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processed_events") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("done")
        batch.drop_column("payload")
