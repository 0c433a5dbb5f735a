"""`parking tariff publish`: store a tariff file as the next version of its tariff."""

from __future__ import annotations

import sys
from pathlib import Path

from config.settings import Settings
from core.billing import TariffError, load_tariff_file
from core.clock import SystemClock
from core.errors import DomainError
from core.services.audit import CLI_ACTOR
from core.services.tariffs import publish_tariff
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork


async def publish_tariff_command(settings: Settings, file: str, reason: str) -> int:
    """Validate and publish a tariff file; print the stored version."""
    try:
        document = load_tariff_file(Path(file)).to_dict()
    except (OSError, TariffError) as exc:
        print(f"parking tariff publish: {exc}", file=sys.stderr)
        return 1
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions) as uow:
            row = await publish_tariff(uow, SystemClock(), CLI_ACTOR, document, reason)
    except DomainError as exc:
        print(f"parking tariff publish: {exc.message_zh} ({exc.detail})", file=sys.stderr)
        return 1
    finally:
        await database.dispose()
    print(f"published {row.code} version {row.version}, effective {row.effective_from.isoformat()}")
    return 0
