"""What a deployment outside development must have: its own secret, no demo passwords."""

from __future__ import annotations

import ipaddress

from config.settings import DEV_SECRET, Settings, SettingsError

MIN_SECRET_LENGTH = 32
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_local_address(host: str) -> bool:
    """Whether a listen address is reachable from this machine only (loopback)."""
    name = host.strip().strip("[]").lower()
    if name in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0-like wildcard: others may reach it


def is_development(settings: Settings) -> bool:
    """Development: PARKING_ENV unset (or development) and every listener on loopback."""
    hosts = [settings.host]
    if settings.wechat_sandbox:
        hosts.append(settings.sandbox_host)
    return settings.env == "development" and all(is_local_address(h) for h in hosts)


def check_production_settings(settings: Settings) -> None:
    """Raise SettingsError when a non-development start has no secret of its own."""
    if is_development(settings):
        return
    secret = settings.secret_key.get_secret_value()
    if secret == DEV_SECRET:
        raise SettingsError(
            "PARKING_SECRET_KEY: the development secret signs forgeable tokens; set a secret "
            f"of your own (at least {MIN_SECRET_LENGTH} characters) when PARKING_ENV=production "
            "or the service listens beyond localhost"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"PARKING_SECRET_KEY: at least {MIN_SECRET_LENGTH} characters outside development"
        )


def demo_passwords_refused(settings: Settings) -> bool:
    """Whether the documented demo password must neither log in nor be seeded."""
    return not is_development(settings)
