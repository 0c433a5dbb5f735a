"""`parking network ...`: register a networked lot, rotate its key, list and check the register."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

from config.settings import Settings
from core.clock import SystemClock
from core.errors import DomainError
from core.services import network_lots
from core.services.audit import CLI_ACTOR
from core.services.network_lots import IssuedKey, LotRegistration
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork

T = TypeVar("T")


async def _run(settings: Settings, step: Callable[[UnitOfWork], Awaitable[T]]) -> T | None:
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions) as uow:
            return await step(uow)
    except DomainError as exc:
        print(f"parking network: {exc.message_zh} ({exc.detail})", file=sys.stderr)
        return None
    finally:
        await database.dispose()


def _print_key(issued: IssuedKey) -> None:
    print(
        json.dumps(
            {
                "code": issued.code,
                "app_id": issued.app_id,
                "key_id": issued.key.key_id,
                "key": issued.key.secret,
                "retiring": issued.retiring,
            },
            ensure_ascii=False,
        )
    )


def load_registration(file: str) -> LotRegistration | None:
    """The lot a JSON file describes (the fields of POST /ops/network/lots), or None."""
    try:
        return LotRegistration(**json.loads(Path(file).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        print(f"parking network register: {exc}", file=sys.stderr)
        return None


async def register_command(settings: Settings, lot: LotRegistration) -> int:
    """Register a lot; print its app id and first key once."""
    secret = settings.secret_key.get_secret_value()
    return await _issue(
        settings, lambda uow: network_lots.register_lot(uow, SystemClock(), secret, CLI_ACTOR, lot)
    )


async def rotate_command(settings: Settings, code: str) -> int:
    """Issue a new key for a lot; print it once."""
    secret = settings.secret_key.get_secret_value()
    return await _issue(
        settings, lambda uow: network_lots.rotate_key(uow, SystemClock(), secret, CLI_ACTOR, code)
    )


async def _issue(settings: Settings, step: Callable[[UnitOfWork], Awaitable[IssuedKey]]) -> int:
    issued = await _run(settings, step)
    if issued is None:
        return 1
    _print_key(issued)
    return 0


async def list_command(settings: Settings) -> int:
    """Print the register, one JSON line per lot; flag silent lots first."""
    clock = SystemClock()

    async def listed(uow: UnitOfWork) -> list[network_lots.RegisteredLot]:
        await network_lots.flag_silent_lots(uow, clock)
        return await network_lots.list_lots(uow, clock)

    lots = await _run(settings, listed)
    if lots is None:
        return 1
    for lot in lots:
        print(json.dumps(asdict(lot), default=str, ensure_ascii=False))
    return 0
