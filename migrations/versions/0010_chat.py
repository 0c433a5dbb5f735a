"""chat: Official Account followers and requests for a human

Revision ID: 0020_chat
Revises: 0008
Create Date: 2026-12-03 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.base

revision: str = "0020_chat"
down_revision: str | Sequence[str] | None = "0009_stay_scans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "chat_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appid", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=True),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("subscribed_at", core.store.base.UTCDateTime(), nullable=True),
        sa.Column("unsubscribed_at", core.store.base.UTCDateTime(), nullable=True),
        sa.Column("last_message_at", core.store.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["drivers.id"], name=op.f("fk_chat_users_driver_id_drivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_users")),
        sa.UniqueConstraint("appid", "openid", name=op.f("uq_chat_users_appid_openid")),
    )
    with op.batch_alter_table("chat_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_users_driver_id"), ["driver_id"], unique=False)
    op.create_table(
        "chat_handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appid", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=True),
        sa.Column(
            "reason", sa.String(length=16), nullable=False, comment="asked, complaint or missed"
        ),
        sa.Column(
            "message", sa.String(length=500), nullable=False, comment="what the driver wrote"
        ),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", core.store.base.UTCDateTime(), nullable=False),
        sa.Column("taken_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", core.store.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'taken', 'closed')", name=op.f("ck_chat_handoffs_status")
        ),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["drivers.id"], name=op.f("fk_chat_handoffs_driver_id_drivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_handoffs")),
    )
    with op.batch_alter_table("chat_handoffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_handoffs_driver_id"), ["driver_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_handoffs_openid"), ["openid"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_handoffs_status"), ["status"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("chat_handoffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_handoffs_status"))
        batch_op.drop_index(batch_op.f("ix_chat_handoffs_openid"))
        batch_op.drop_index(batch_op.f("ix_chat_handoffs_driver_id"))
    op.drop_table("chat_handoffs")
    with op.batch_alter_table("chat_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_users_driver_id"))
    op.drop_table("chat_users")
