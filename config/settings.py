"""Typed settings read from the environment and an optional TOML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///var/parking.db"
DEV_SECRET = "dev-only-secret-change-me-in-production-0123456789"
MoneyAction = Literal["waive", "refund"]
# Fen a role applies without a finance approver (docs/support-appeals.md).
DEFAULT_APPROVAL_LIMITS: dict[str, dict[MoneyAction, int]] = {
    "support_agent": {"waive": 2000, "refund": 2000},
    "finance": {"waive": 50000, "refund": 50000},
    "admin": {"waive": 50000, "refund": 50000},
}


class SettingsError(Exception):
    """Raised when the configuration cannot be used; the message names the setting."""


class Settings(BaseSettings):
    """Every knob of the service; environment variables win over the TOML file."""

    model_config = SettingsConfigDict(env_prefix="PARKING_", extra="forbid", frozen=True)

    database_url: str = Field(
        DEFAULT_SQLITE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "PARKING_DATABASE_URL", "database_url"),
    )
    redis_url: str | None = Field(
        None, validation_alias=AliasChoices("REDIS_URL", "PARKING_REDIS_URL", "redis_url")
    )
    mqtt_url: str | None = Field(
        None, validation_alias=AliasChoices("MQTT_URL", "PARKING_MQTT_URL", "mqtt_url")
    )
    # "production" (or a listen address other than loopback) demands a real secret and
    # refuses the demo accounts' password (config/production.py).
    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    staff_token_minutes: int = Field(30, ge=1, le=24 * 60)
    # The console's session cookie: Secure unless set false (plain-HTTP development on loopback).
    console_cookie_secure: bool | None = None
    staff_max_failed_logins: int = Field(5, ge=1)
    staff_lockout_minutes: int = Field(15, ge=1)
    # Wrong passwords lock one client address out of one account, the lock doubling with each
    # further failure up to this; requests per minute per client address (docs/security.md).
    staff_lockout_max_minutes: int = Field(24 * 60, ge=1)
    login_rate_per_minute: int = Field(20, ge=1)
    plate_lookup_rate_per_minute: int = Field(30, ge=1)
    wechat_appid: str | None = None
    wechat_secret: SecretStr | None = None
    wechat_token: str | None = None
    wechat_aes_key: SecretStr | None = None
    wechatpay_sp_mchid: str | None = None
    wechatpay_api_v3_key: SecretStr | None = None
    wechatpay_base_url: str | None = None
    # Payments and the mini-program (README "Payments"): partner-mode credentials of the
    # service provider; with wechat_sandbox on, local stand-ins replace WeChat and WeChat Pay.
    wechatpay_private_key_path: str | None = None
    wechatpay_cert_serial_no: str | None = None
    wechatpay_notify_url: str | None = None
    wechatpay_cert_dir: str | None = None
    miniprogram_appid: str | None = None
    miniprogram_secret: SecretStr | None = None
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    refund_template_id: str | None = None
    driver_token_minutes: int = Field(7 * 24 * 60, ge=5)
    wechat_sandbox: bool = False
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(8090, ge=0, le=65535)
    sandbox_keys_dir: str = "var/sandbox"
    # The sandbox completes an accepted parking deduction after this many seconds (as its
    # plate is set up, success by default), so `make run` deducts end to end.
    sandbox_deduction_seconds: float = Field(2.0, ge=0, le=3600)
    payments_sweep_seconds: float = Field(300.0, ge=0)
    # Auto-pay (docs/auto-deduct.md): a deduction with no result this long after it was asked
    # is told to the driver as arrears to pay by hand.
    auto_pay_result_minutes: int = Field(30, ge=1, le=24 * 60)
    # Networked lots (docs/networking.md): the webhook outbox is polled this often (0 = off),
    # and lots that pushed nothing for 15 minutes are flagged silent by a check this often.
    network_webhook_poll_seconds: float = Field(1.0, ge=0)
    network_silence_check_seconds: float = Field(60.0, ge=0)
    # Invoices (docs/invoices.md): send requested ones, poll issuing ones, carry out reversals.
    invoices_sweep_seconds: float = Field(15.0, ge=0)
    # Invoice files sent by email; unset: the email route answers 503 mail_not_configured.
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_sender: str = "invoices@parking.local"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # Cashier payment codes (docs/lanes.md "Payment codes"): query a USERPAYING order every
    # micropay_poll_seconds; reverse it when the driver has not confirmed within the timeout.
    micropay_poll_seconds: float = Field(5.0, gt=0, le=60)
    micropay_timeout_seconds: float = Field(30.0, gt=0, le=300)
    tariff_timezone: str = "Asia/Shanghai"
    calendar_refresh_seconds: float = Field(60.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "json": one JSON object a line (request id, masked); "text": the human format. Unset:
    # text in development, json otherwise (docs/deploy.md "Logs").
    log_format: Literal["json", "text"] | None = None
    access_log: bool = False  # a line per request costs more than a sensor event's own work
    # On-street devices (docs/devices.md): sensor noise, clock skew, plate wait, health, MQTT.
    sensor_flicker_seconds: int = Field(60, ge=0)
    device_clock_skew_seconds: int = Field(300, ge=0)
    # Group commit of single berth events (docs/devices.md): at most this many share one
    # transaction (1: each alone), and at most so many wait before a request is refused busy.
    sensor_group_max_events: int = Field(200, ge=1, le=500)
    sensor_group_max_waiting: int = Field(2000, ge=1, le=100_000)
    plate_match_seconds: int = Field(300, ge=0)
    plate_wait_minutes: int = Field(15, ge=1)
    device_offline_minutes: int = Field(30, ge=1)
    device_low_battery_pct: int = Field(20, ge=0, le=100)
    device_max_false_trigger_rate: float = Field(0.3, ge=0, le=1)
    mqtt_client_id: str = "parking-centre"
    mqtt_topic_prefix: str = "parking/v1"
    # Several centre workers share the device topics ($share/<group>/...): each message goes to
    # one of them. Empty: a plain subscription (one worker).
    mqtt_share_group: str = Field("", pattern=r"^[A-Za-z0-9_-]*$", max_length=64)
    # Lane commands the broker could not take wait in the outbox (docs/reliability.md),
    # void after this age: a gate opened minutes late would let the wrong car through.
    lane_command_max_age_seconds: float = Field(30.0, gt=0, le=3600)
    lane_outbox_poll_seconds: float = Field(2.0, gt=0, le=60)
    availability_refresh_seconds: float = Field(30.0, gt=0)
    availability_redis_prefix: str = "parking:avail"
    # Guidance signs (docs/devices.md): push free counts on one worker only.
    signs_enabled: bool = False
    signs_tick_seconds: float = Field(2.0, gt=0, le=60)
    signs_reload_seconds: float = Field(30.0, gt=0)
    # Open data feed (docs/open-data.md): cached answers, a request budget per client address.
    open_data_cache_seconds: float = Field(30.0, ge=0, le=600)
    open_data_rate_per_minute: int = Field(60, ge=1)
    image_dir: str = "var/images"
    # Driver features (docs/drivers.md): plates, entry notices, spaces near me, scan codes.
    max_plates_per_driver: int = Field(5, ge=1, le=50)
    entry_template_id: str | None = None
    entry_sms_template: str | None = None
    fee_template_id: str | None = None
    fee_sms_template: str | None = None
    notices_send_seconds: float = Field(5.0, ge=0)
    # The vehicle register (行驶证 checks) and the SMS provider: "sandbox" answers locally (the
    # demo register, texts kept in memory); "none" has none (licence checks answer 503 and no
    # SMS is tried, so a notice is never marked sent by text). Unset: as wechat_sandbox says.
    licence_register: Literal["sandbox", "none"] | None = None
    sms_provider: Literal["sandbox", "none"] | None = None
    nearby_refresh_seconds: float = Field(60.0, gt=0)
    # How old a lot's free count in spaces near me may be: all lots are counted at once, at
    # most once in this many seconds per worker (0: a count per answer).
    nearby_counts_seconds: float = Field(1.0, ge=0)
    nearby_redis_key: str = "parking:places"
    scan_code_key_version: int = Field(1, ge=1, le=99)
    # Arrears (docs/arrears.md): a notice served gives the driver this many days before the
    # stay may be handed to the traffic police.
    arrears_escalate_after_days: int = Field(15, ge=0, le=365)
    # Reminders to a bound plate's verified drivers of an unpaid street stay: the first this many
    # days after it ended, then every so many days, at most so many; scanned every so often
    # (0 turns the reminders off). Template ids as for the other notices.
    arrears_reminder_after_days: int = Field(3, ge=0, le=365)
    arrears_reminder_every_days: int = Field(7, ge=1, le=365)
    arrears_reminder_most: int = Field(3, ge=0, le=50)
    arrears_reminder_seconds: float = Field(3600.0, ge=0)
    # Scheduled jobs (docs/operations.md "Scheduled jobs"): roll-ups, reconciliation, reminders,
    # invoice retries, deferred revenue. Off unless turned on; every worker that has it on
    # schedules them, and the job_runs row lets exactly one run each period.
    jobs_enabled: bool = False
    arrears_template_id: str | None = None
    arrears_sms_template: str | None = None
    # Fee appeals and complaints (docs/support-appeals.md): days support has to answer, photo
    # uploads (kept in the object store, local files under object_store_dir by default), the
    # outcome notice's template, and per role and action (waive, refund) the most fen applied
    # without a finance approver; a role or action not listed always waits for one.
    appeal_answer_days: int = Field(7, ge=1, le=90)
    appeal_photo_max_bytes: int = Field(2 * 1024 * 1024, ge=1024, le=20 * 1024 * 1024)
    object_store_dir: str = "var/objects"
    appeal_template_id: str | None = None
    approval_limits: dict[str, dict[MoneyAction, int]] = Field(
        default_factory=lambda: dict(DEFAULT_APPROVAL_LIMITS)
    )
    sql_echo: bool = False
    # PostgreSQL pool of each worker. A pre-ping costs a round trip on every checkout; without
    # it the requests that meet a dropped connection fail, and the pool is then renewed.
    # Fixed by default: an overflow connection is closed when it is returned, and under load
    # the pool then opened hundreds (each a server process that plans every statement anew).
    db_pool_size: int = Field(20, ge=1, le=200)
    db_max_overflow: int = Field(0, ge=0, le=200)
    db_pre_ping: bool = False
    # How long a request waits for a free connection before it is answered 503 `busy`.
    db_pool_timeout_seconds: float = Field(10.0, gt=0)
    db_pool_recycle_seconds: int = Field(1800, ge=-1)
    # The Official Account bot (docs/bot.md): memory per user, reply budget inside WeChat's
    # 5 s (later answers go as customer-service messages), and a folder of its data files
    # (bot_intents.toml, bot_places.toml, bot_menu.toml; unset: the packaged config/).
    bot_state_minutes: int = Field(30, ge=1, le=24 * 60)
    bot_reply_seconds: float = Field(4.0, gt=0, le=4.5)
    bot_config_dir: str | None = None
    # Support chat (docs/support.md): a held conversation idle this long returns to the bot
    # (checked by a sweep every support_sweep_seconds, 0 = only when the driver writes); the
    # wait the driver is told is this many minutes per conversation ahead; Official Accounts
    # whose chats go to WeChat's own customer service (TransferCustomerServiceReply) instead.
    support_idle_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    support_sweep_seconds: float = Field(60.0, ge=0)
    support_minutes_per_chat: int = Field(5, ge=1, le=120)
    support_wechat_customer_service: list[str] = Field(default_factory=list)
    support_redis_channel: str = "parking:support:events"
    # Worker processes of `parking serve`, sharing the port (docs/architecture.md).
    workers: int = Field(1, ge=1, le=64)
    # /metrics (docs/deploy.md "Metrics"): with a token, only `Authorization: Bearer <token>`
    # is let in, from anywhere; without one, only loopback and private (internal) addresses.
    metrics_token: SecretStr | None = None
    # /readyz: each check's time limit, and the fewest days the WeChat Pay platform
    # certificate must still be valid for the worker to call itself ready.
    ready_check_seconds: float = Field(2.0, gt=0, le=30)
    ready_cert_min_days: int = Field(7, ge=0, le=365)
    # A sandbox served by `parking sandbox` elsewhere (compose.yaml): with wechat_sandbox on,
    # the workers use it (keys from sandbox_keys_dir) instead of starting their own.
    sandbox_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must be a postgresql:// or sqlite:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value or None

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must be an mqtt:// URL")
        return value or None

    @field_validator("tariff_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def is_sqlite(self) -> bool:
        """Whether the embedded SQLite database is in use."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("PARKING_CONFIG", "parking.toml")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if Path(toml_path).is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise SettingsError naming each bad setting."""
    config_path = os.environ.get("PARKING_CONFIG")
    if config_path and not Path(config_path).is_file():
        raise SettingsError(f"PARKING_CONFIG: file {config_path!r} does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{_env_name(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from exc


def _env_name(loc: tuple[int | str, ...]) -> str:
    """Name a failing field the way an operator sets it."""
    name = ".".join(str(part) for part in loc).upper() or "SETTINGS"
    return name if name.endswith("_URL") else f"PARKING_{name}"
