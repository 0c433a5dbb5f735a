"""lane outbox: lane commands kept while the broker is away

Revision ID: 0010_lane_outbox
Revises: 0009_scoped_event_keys
Create Date: 2026-12-03 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.base

revision: str = "0010_lane_outbox"
down_revision: str | Sequence[str] | None = "0009_scoped_event_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "lane_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lane", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("pay_url", sa.String(length=512), nullable=True),
        sa.Column("created_at", core.store.base.UTCDateTime(), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", core.store.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lane_outbox")),
    )
    op.create_index("ix_lane_outbox_created_at", "lane_outbox", ["created_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_lane_outbox_created_at", table_name="lane_outbox")
    op.drop_table("lane_outbox")
