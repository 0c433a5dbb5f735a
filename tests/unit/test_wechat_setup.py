"""WeChat Pay settings: none means payments are off; a partial set stops the start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import Settings, SettingsError
from core.clock import SystemClock
from server.wechat import build_services


def test_no_credentials_means_payments_are_off() -> None:
    assert build_services(Settings(), SystemClock()) is None


def test_a_partial_configuration_names_what_is_missing() -> None:
    settings = Settings(wechatpay_sp_mchid="1900000100", miniprogram_appid="wx-app")
    with pytest.raises(SettingsError, match="PARKING_WECHATPAY_API_V3_KEY") as error:
        build_services(settings, SystemClock())
    assert "PARKING_MINIPROGRAM_SECRET" in str(error.value)
    assert "PARKING_MINIPROGRAM_APPID" not in str(error.value)


def test_a_missing_private_key_file_is_named(tmp_path: Path) -> None:
    settings = Settings(
        wechatpay_sp_mchid="1900000100",
        wechatpay_api_v3_key=SecretStr("k" * 32),
        wechatpay_private_key_path=str(tmp_path / "nope.pem"),
        wechatpay_cert_serial_no="SERIAL",
        miniprogram_appid="wx-app",
        miniprogram_secret=SecretStr("secret"),
    )
    with pytest.raises(SettingsError, match="PARKING_WECHATPAY_PRIVATE_KEY_PATH"):
        build_services(settings, SystemClock())
