"""The lane agent's on-disk journal: every read, what the lane was told, what the centre got."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    told TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    answer TEXT,
    recorded_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS events_state ON events (state, seq);
CREATE TABLE IF NOT EXISTS presence (
    plate TEXT PRIMARY KEY,
    entered_at TEXT NOT NULL,
    vehicle_class TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One journalled read: its lane JSON, the answer the lane got and its delivery state."""

    seq: int
    key: str
    body: dict[str, Any]
    told: dict[str, Any] | None
    state: str  # pending (the centre has not got it), sent, rejected (the centre refused it)


class Journal:
    """A SQLite file synced to disk on every commit (synchronous=FULL), so a crash loses nothing."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # fsync at every commit, WAL included
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def record(self, key: str, body: dict[str, Any], at: datetime) -> JournalEvent:
        """Append a read (or find it again: a camera's retry repeats its key)."""
        self._db.execute(
            "INSERT OR IGNORE INTO events (key, body, recorded_at) VALUES (?, ?, ?)",
            (key, _dump(body), at.isoformat()),
        )
        found = self.find(key)
        assert found is not None  # just written
        return found

    def find(self, key: str) -> JournalEvent | None:
        """A journalled read by its key."""
        row = self._db.execute(
            "SELECT seq, key, body, told, state FROM events WHERE key = ?", (key,)
        ).fetchone()
        return _event(row) if row else None

    def decide(self, seq: int, body: dict[str, Any], told: dict[str, Any]) -> None:
        """Keep what the lane was told, and the body to resend (with the offline decision)."""
        self._db.execute(
            "UPDATE events SET body = ?, told = ? WHERE seq = ?", (_dump(body), _dump(told), seq)
        )

    def delivered(self, seq: int, answer: dict[str, Any], at: datetime, *, state: str) -> None:
        """The centre answered (sent) or refused for good (rejected): never send it again."""
        self._db.execute(
            "UPDATE events SET state = ?, answer = ?, sent_at = ?,"
            " told = COALESCE(told, ?) WHERE seq = ?",
            (state, _dump(answer), at.isoformat(), _dump(answer), seq),
        )

    def pending(self, limit: int = 100) -> list[JournalEvent]:
        """Reads the centre has not got yet, oldest first."""
        rows = self._db.execute(
            "SELECT seq, key, body, told, state FROM events WHERE state = 'pending'"
            " ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [_event(row) for row in rows]

    def pending_before(self, seq: int) -> int:
        """How many earlier reads still wait for the centre (order must be kept)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM events WHERE state = 'pending' AND seq < ?", (seq,)
        ).fetchone()
        return int(row[0])

    def backlog(self) -> int:
        """How many reads wait for the centre."""
        return int(
            self._db.execute("SELECT COUNT(*) FROM events WHERE state='pending'").fetchone()[0]
        )

    def counts(self) -> dict[str, int]:
        """Reads by delivery state."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM events GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

    def prune(self, before: datetime) -> int:
        """Forget delivered reads recorded before a moment; undelivered ones are kept forever."""
        cursor = self._db.execute(
            "DELETE FROM events WHERE state != 'pending' AND recorded_at < ?", (before.isoformat(),)
        )
        return cursor.rowcount

    def entered(self, plate: str, at: datetime, vehicle_class: str) -> None:
        """A car entered the lot: remember when, to price its exit offline."""
        self._db.execute(
            "INSERT OR REPLACE INTO presence (plate, entered_at, vehicle_class) VALUES (?, ?, ?)",
            (plate, at.isoformat(), vehicle_class),
        )

    def left(self, plate: str) -> None:
        """A car left the lot."""
        self._db.execute("DELETE FROM presence WHERE plate = ?", (plate,))

    def entry_of(self, plate: str) -> tuple[datetime, str] | None:
        """When a car inside entered, and its vehicle class."""
        row = self._db.execute(
            "SELECT entered_at, vehicle_class FROM presence WHERE plate = ?", (plate,)
        ).fetchone()
        return (datetime.fromisoformat(row[0]), str(row[1])) if row else None

    def save_snapshot(self, body: dict[str, Any]) -> None:
        """Keep the lot snapshot last fetched from the centre."""
        self._db.execute("INSERT OR REPLACE INTO snapshot (id, body) VALUES (1, ?)", (_dump(body),))

    def load_snapshot(self) -> dict[str, Any] | None:
        """The snapshot last kept, if any."""
        row = self._db.execute("SELECT body FROM snapshot WHERE id = 1").fetchone()
        return dict(json.loads(row[0])) if row else None


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _event(row: tuple[Any, ...]) -> JournalEvent:
    seq, key, body, told, state = row
    return JournalEvent(
        int(seq), str(key), json.loads(body), json.loads(told) if told else None, state
    )
