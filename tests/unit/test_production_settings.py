"""Outside development the process needs its own secret: the default one forges tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from config.production import (
    check_production_settings,
    demo_passwords_refused,
    is_development,
    is_local_address,
)
from config.settings import DEV_SECRET, Settings, SettingsError
from core import staff_tokens

OWN_SECRET = "k" * 40


def test_the_default_secret_forges_an_admin_token() -> None:
    # What anyone who reads the repository can do against a server left on the default.
    now = datetime(2026, 11, 25, tzinfo=UTC)
    forged = staff_tokens.issue(1, "admin", now, 30, DEV_SECRET).token
    assert staff_tokens.decode(forged, now, Settings().secret_key.get_secret_value()).role == (
        "admin"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"])
def test_loopback_addresses_are_local(host: str) -> None:
    assert is_local_address(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "parking.example.cn", ""])
def test_other_addresses_are_not_local(host: str) -> None:
    assert not is_local_address(host)


@pytest.mark.parametrize(
    "overrides",
    [
        {"env": "production"},
        {"host": "0.0.0.0"},
        {"wechat_sandbox": True, "sandbox_host": "0.0.0.0"},
    ],
)
def test_non_development_refuses_the_default_secret(overrides: dict[str, object]) -> None:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    assert not is_development(settings)
    assert demo_passwords_refused(settings)
    with pytest.raises(SettingsError, match="PARKING_SECRET_KEY"):
        check_production_settings(settings)


def test_non_development_refuses_a_short_secret() -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        check_production_settings(Settings(env="production", secret_key=SecretStr("short")))


def test_non_development_with_its_own_secret_starts() -> None:
    settings = Settings(env="production", host="0.0.0.0", secret_key=SecretStr(OWN_SECRET))
    check_production_settings(settings)  # raises nothing
    assert demo_passwords_refused(settings)


def test_development_on_loopback_keeps_the_default() -> None:
    settings = Settings()
    check_production_settings(settings)
    assert is_development(settings) and not demo_passwords_refused(settings)


def test_parking_env_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKING_ENV", "production")
    assert Settings().env == "production"
    monkeypatch.setenv("PARKING_ENV", "staging")
    with pytest.raises(ValueError, match="env"):
        Settings()
