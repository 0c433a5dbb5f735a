"""The `parking` console script on an empty SQLite file: migrate, seed, publish, verify, quote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_cli_takes_an_empty_database_through_its_life(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("PARKING_CONFIG", raising=False)
    assert main(["migrate"]) == 0
    assert main(["seed-demo"]) == 0
    assert main(["seed-demo", "--if-empty"]) == 0
    assert main(["seed-demo"]) == 1  # refuses to load the demo twice
    future = (
        (ROOT / "tariffs" / "lot-standard.toml")
        .read_text(encoding="utf-8")
        .replace("2025-01-01T00:00:00+08:00", "2099-01-01T00:00:00+08:00")
    )
    (tmp_path / "lot.toml").write_text(future, encoding="utf-8")
    capsys.readouterr()
    assert main(["tariff", "publish", str(tmp_path / "lot.toml"), "--reason", "2099 prices"]) == 0
    assert "lot-standard version 2" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    assert main(["migrate", "--down", "--revision", "base"]) == 0


def test_quote_prints_the_quote_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    tariff = str(ROOT / "tariffs" / "onstreet-class1.toml")
    code = main(
        [
            "quote",
            "--tariff",
            tariff,
            "--entry",
            "2026-11-25T09:00:00+08:00",
            "--exit",
            "2026-11-25T11:00:00+08:00",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["total_fen"] == 800


def test_bad_setting_stops_the_cli_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert main(["migrate"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_cli_registers_a_networked_lot_and_rotates_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.test_networked_lot import registration

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("PARKING_CONFIG", raising=False)
    assert main(["migrate"]) == 0
    assert main(["seed-demo"]) == 0
    lot = tmp_path / "lot.json"
    lot.write_text(json.dumps(registration("https://lot.example/webhook")), encoding="utf-8")
    capsys.readouterr()
    assert main(["network", "register", str(lot)]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["app_id"].startswith("np") and len(issued["key"]) >= 40
    assert main(["network", "register", str(lot)]) == 1  # the code is taken
    assert main(["network", "rotate-key", issued["code"]]) == 0
    assert json.loads(capsys.readouterr().out)["retiring"] == [issued["key_id"]]
    assert main(["network", "list"]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["code"], len(listed["key_ids"]), listed["silent"]) == (issued["code"], 2, False)
