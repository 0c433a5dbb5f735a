"""stay scans: paying verifies a binding only with the stay's own scan, and only its stays

Revision ID: 0009_stay_scans
Revises: 0008
Create Date: 2026-12-03 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.store.base

revision: str = "0009_stay_scans"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "stay_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("stay_id", sa.Integer(), nullable=False),
        sa.Column("scanned_at", core.store.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["drivers.id"], name=op.f("fk_stay_scans_driver_id_drivers")
        ),
        sa.ForeignKeyConstraint(
            ["stay_id"], ["stays.id"], name=op.f("fk_stay_scans_stay_id_stays")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stay_scans")),
        sa.UniqueConstraint("driver_id", "stay_id", name=op.f("uq_stay_scans_driver_id_stay_id")),
    )
    with op.batch_alter_table("stay_scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stay_scans_driver_id"), ["driver_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stay_scans_stay_id"), ["stay_id"], unique=False)
    # Bindings "verified" by paying alone see every stay of the plate: from now on they see
    # only the stays they paid, until a 行驶证 check verifies them (verified_at is for that).
    op.execute("UPDATE vehicle_bindings SET verified_at = NULL WHERE verified_by = 'payment'")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("stay_scans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stay_scans_stay_id"))
        batch_op.drop_index(batch_op.f("ix_stay_scans_driver_id"))
    op.drop_table("stay_scans")
