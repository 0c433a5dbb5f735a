"""support chat: conversations held by agents, their messages, closing and ratings

Revision ID: 0030_support_chat
Revises: 0010_lane_outbox
Create Date: 2026-12-03 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.base

revision: str = "0030_support_chat"
down_revision: str | Sequence[str] | None = "0010_lane_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = ("claimed_at", "first_response_at", "last_activity_at", "rated_at")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("chat_handoffs", schema=None) as batch_op:
        for name in _WHEN:
            batch_op.add_column(sa.Column(name, core.store.base.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "outcome",
                sa.String(length=16),
                nullable=True,
                comment="closed, handed_back or idle",
            )
        )
        batch_op.add_column(sa.Column("category", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=8), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True, comment="the agent's username"),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="text, miniprogram, canned, image, ...",
        ),
        sa.Column("body", sa.String(length=2048), nullable=False),
        sa.Column("created_at", core.store.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "sender IN ('driver', 'agent', 'system')", name=op.f("ck_chat_messages_sender")
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["chat_handoffs.id"],
            name=op.f("fk_chat_messages_handoff_id_chat_handoffs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_messages_handoff_id"), ["handoff_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_messages_handoff_id"))
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_handoffs", schema=None) as batch_op:
        for name in ("rating", "resolution", "category", "outcome", *reversed(_WHEN)):
            batch_op.drop_column(name)
