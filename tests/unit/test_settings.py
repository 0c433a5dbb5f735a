"""Settings are typed, and a bad one stops the start naming itself."""

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


def test_default_is_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PARKING_CONFIG", raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///var/parking.db"
    assert settings.is_sqlite


def test_postgres_url_uses_asyncpg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/parking")
    assert load_settings().database_url == "postgresql+asyncpg://u@db:5432/parking"


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("REDIS_URL", "http://x", "REDIS_URL"),
        ("MQTT_URL", "tcp://x", "MQTT_URL"),
        ("PARKING_PORT", "eighty", "PARKING_PORT"),
        ("PARKING_TARIFF_TIMEZONE", "Mars/Olympus", "PARKING_TARIFF_TIMEZONE"),
        ("PARKING_MICROPAY_POLL_SECONDS", "0", "PARKING_MICROPAY_POLL_SECONDS"),
        ("PARKING_MICROPAY_TIMEOUT_SECONDS", "3600", "PARKING_MICROPAY_TIMEOUT_SECONDS"),
    ],
)
def test_bad_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "parking.toml"
    path.write_text('port = 9090\nhost = "0.0.0.0"\n', encoding="utf-8")
    monkeypatch.setenv("PARKING_CONFIG", str(path))
    monkeypatch.setenv("PARKING_HOST", "127.0.0.2")
    settings = load_settings()
    assert settings.port == 9090
    assert settings.host == "127.0.0.2"


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKING_CONFIG", "/nonexistent/parking.toml")
    with pytest.raises(SettingsError, match="PARKING_CONFIG"):
        load_settings()
