"""deploy/entrypoint.sh under a POSIX sh: secrets from files, migrations before serving."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Stands in for the installed `parking`: notes each call with the settings it was given.
STUB = """#!/bin/sh
echo "$* key=${PARKING_SECRET_KEY:-} db=${DATABASE_URL:-} file=${PARKING_SECRET_KEY_FILE:-}" \
  >> "$CALLS"
"""


def _run(tmp_path: Path, *args: str, **env: str) -> list[str]:
    shell = shutil.which("dash") or shutil.which("sh")
    if shell is None:
        pytest.skip("no POSIX shell")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "parking").write_text(STUB, encoding="utf-8")
    (bin_dir / "parking").chmod(0o755)
    calls = tmp_path / "calls.txt"
    calls.unlink(missing_ok=True)
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls), **env}
    subprocess.run(
        [shell, str(REPO / "deploy" / "entrypoint.sh"), *args], env=environment, check=True
    )
    return calls.read_text(encoding="utf-8").splitlines()


def test_secrets_come_from_files_and_serve_migrates_first(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("k" * 40, encoding="utf-8")
    (tmp_path / "db").write_text("postgresql://parking:pw@postgres/parking\n", encoding="utf-8")
    calls = _run(
        tmp_path,
        "serve",
        PARKING_SECRET_KEY_FILE=str(tmp_path / "key"),
        DATABASE_URL_FILE=str(tmp_path / "db"),
    )
    expected = f"key={'k' * 40} db=postgresql://parking:pw@postgres/parking file="
    assert calls == [f"migrate {expected}", f"serve {expected}"]


def test_no_migration_when_told_not_or_for_other_commands(tmp_path: Path) -> None:
    assert [c.split()[0] for c in _run(tmp_path, "serve", MIGRATE_ON_START="false")] == ["serve"]
    assert [c.split()[0] for c in _run(tmp_path, "sandbox")] == ["sandbox"]
    assert os.access(REPO / "deploy" / "entrypoint.sh", os.X_OK)
