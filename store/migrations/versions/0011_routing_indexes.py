"""Find the company a Slack Connect channel's deal room or card belongs to, from the channel
alone: a request about it may arrive through the other company's installation.

Revision ID: 0011_routing_indexes
Revises: 0010_outbox_target
"""

from __future__ import annotations

from alembic import op

revision = "0011_routing_indexes"
down_revision = "0010_outbox_target"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_channel_bindings_channel", "channel_bindings", ["channel_id"])
    op.create_index("ix_card_copies_channel_ts", "card_copies", ["channel_id", "ts"])


def downgrade() -> None:
    op.drop_index("ix_card_copies_channel_ts", table_name="card_copies")
    op.drop_index("ix_channel_bindings_channel", table_name="channel_bindings")
