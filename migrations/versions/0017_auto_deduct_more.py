"""auto-deduct more: a lot may collect a plate's city arrears at its exit (hospitals do)

Revision ID: 0040_auto_deduct_more
Revises: 0043_settlement
Create Date: 2026-12-04 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040_auto_deduct_more"
down_revision: str | Sequence[str] | None = "0043_settlement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("lot_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "collect_arrears_at_exit",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    # A hospital lot without its own row collects them by default; one with a row keeps that.
    op.execute(
        "UPDATE lot_policies SET collect_arrears_at_exit = TRUE"
        " WHERE lot_id IN (SELECT id FROM lots WHERE kind = 'hospital')"
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("lot_policies", schema=None) as batch_op:
        batch_op.drop_column("collect_arrears_at_exit")
