"""`parking quote` prints the quote JSON and fails cleanly on bad input."""

from __future__ import annotations

import json

import pytest

from core.billing.cli import run_quote

from .conftest import TARIFF_DIR


def test_quote_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_quote(
        [
            "quote",
            "--tariff",
            str(TARIFF_DIR / "onstreet-class1.toml"),
            "--entry",
            "2025-03-03T09:00:00+08:00",
            "--exit",
            "2025-03-03T11:00:00+08:00",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_fen"] == 800
    assert data["tariff_id"] == "onstreet-class1"
    assert sum(line["amount_fen"] for line in data["lines"]) == 800


def test_vehicle_class_and_lost_ticket(capsys: pytest.CaptureFixture[str]) -> None:
    lot = str(TARIFF_DIR / "lot-standard.toml")
    code = run_quote(["--tariff", lot, "--exit", "2025-03-03T11:00:00+08:00", "--lost-ticket"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["total_fen"] == 5000
    code = run_quote(
        [
            "--tariff",
            lot,
            "--entry",
            "2025-03-03T09:00:00+08:00",
            "--exit",
            "2025-03-03T11:00:00+08:00",
            "--vehicle-class",
            "large",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["total_fen"] == 1200


def test_unknown_calendar_day_fails_unless_overridden(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--tariff",
        str(TARIFF_DIR / "onstreet-class3.toml"),
        "--entry",
        "2027-10-01T09:00:00+08:00",
        "--exit",
        "2027-10-01T12:00:00+08:00",
    ]
    assert run_quote(args) == 2
    assert "2027-10-01" in capsys.readouterr().err
    assert run_quote([*args, "--day-type", "2027-10-01=holiday"]) == 0
    assert json.loads(capsys.readouterr().out)["total_fen"] == 0


def test_naive_time_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run_quote(
            [
                "--tariff",
                str(TARIFF_DIR / "onstreet-class1.toml"),
                "--entry",
                "2025-03-03T09:00:00",
                "--exit",
                "2025-03-03T11:00:00+08:00",
            ]
        )
    assert caught.value.code == 2
    assert "UTC offset" in capsys.readouterr().err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_quote(
        [
            "--tariff",
            "nope.toml",
            "--entry",
            "2025-03-03T09:00+08:00",
            "--exit",
            "2025-03-03T11:00+08:00",
        ]
    )
    assert code == 2
    assert "error" in capsys.readouterr().err
