"""scoped event keys: own-format device event keys name their kind

Revision ID: 0009_scoped_event_keys
Revises: 0020_chat
Create Date: 2026-12-03 15:10:00

A heartbeat and a berth event of one device with one event id shared the key
`own:DEVICE:ID`, so the second was taken for a resend of the first. Keys are now
`own:SCOPE:DEVICE:ID`; the stored ones are rewritten so that a resend of an event stored
before the upgrade is still recognised.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_scoped_event_keys"
down_revision: str | Sequence[str] | None = "0020_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_KEY = 128  # device_events.dedupe_key
# device_events.kind -> the key scope the parsers use (device_bridge/formats), frozen here.
SCOPES = {
    "berth": ("berth_occupied", "berth_vacated"),
    "plate": ("plate_read",),
    "heartbeat": ("heartbeat",),
    "fault": ("fault",),
    "gate": ("gate_opened", "gate_closed", "gate_fault"),
    "intercom": ("intercom_call",),
}


def _hashed(scope: str, old: str) -> str:
    whole = f"own:{scope}:{old[4:]}"
    return f"own:{scope}:sha256:{hashlib.sha256(whole.encode()).hexdigest()}"


def upgrade() -> None:
    """Rewrite own-format keys to name the event's kind."""
    bind = op.get_bind()
    for scope, kinds in SCOPES.items():
        room = MAX_KEY - len(scope) - 1
        params = {"kinds": list(kinds), "room": room, "hashed": f"own:{scope}:sha256:%"}
        kind_filter = "vendor = 'own' AND dedupe_key LIKE 'own:%' AND kind IN :kinds"
        # Keys too long once scoped get the parsers' hashed form (rare: only SQLite kept them).
        long_rows = bind.execute(
            sa.text(
                f"SELECT id, dedupe_key FROM device_events WHERE {kind_filter} "
                "AND length(dedupe_key) > :room"
            ).bindparams(sa.bindparam("kinds", expanding=True)),
            params,
        ).all()
        for row_id, old in long_rows:
            bind.execute(
                sa.text("UPDATE device_events SET dedupe_key = :key WHERE id = :id"),
                {"key": _hashed(scope, old), "id": row_id},
            )
        bind.execute(
            sa.text(
                f"UPDATE device_events SET dedupe_key = 'own:{scope}:' || substr(dedupe_key, 5) "
                f"WHERE {kind_filter} AND length(dedupe_key) <= :room "
                "AND dedupe_key NOT LIKE :hashed"
            ).bindparams(sa.bindparam("kinds", expanding=True)),
            params,
        )


def downgrade() -> None:
    """Drop the scope from the keys again (hashed long keys stay as they are)."""
    bind = op.get_bind()
    for scope, kinds in SCOPES.items():
        bind.execute(
            sa.text(
                f"UPDATE device_events SET dedupe_key = 'own:' || substr(dedupe_key, "
                f"{len(scope) + 6}) WHERE vendor = 'own' AND kind IN :kinds "
                "AND dedupe_key LIKE :scoped AND dedupe_key NOT LIKE :hashed"
            ).bindparams(sa.bindparam("kinds", expanding=True)),
            {"kinds": list(kinds), "scoped": f"own:{scope}:%", "hashed": f"own:{scope}:sha256:%"},
        )
