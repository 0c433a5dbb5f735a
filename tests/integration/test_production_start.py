"""Outside development: `parking serve` needs a secret, demo accounts neither log in nor seed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import Settings
from core.clock import FrozenClock
from core.staff import DEMO_PASSWORD
from core.store.database import open_database
from core.store.people import StaffRow
from core.store.unit_of_work import UnitOfWork
from server.app import create_app
from server.cli import main

OWN_SECRET = "a-secret-of-this-deployment-0123456789"


@pytest.mark.parametrize(
    ("name", "value"), [("PARKING_ENV", "production"), ("PARKING_HOST", "0.0.0.0")]
)
def test_serve_refuses_to_start_without_its_own_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.delenv("PARKING_CONFIG", raising=False)
    monkeypatch.delenv("PARKING_SECRET_KEY", raising=False)
    monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    assert "PARKING_SECRET_KEY" in capsys.readouterr().err


async def test_demo_password_does_not_log_in_outside_development(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    production = settings.model_copy(
        update={"env": "production", "secret_key": SecretStr(OWN_SECRET)}
    )
    client = await aiohttp_client(create_app(production, clock=clock))
    body = {"username": "demo-admin", "password": DEMO_PASSWORD}
    async with client.post("/ops/login", json=body) as response:
        assert (response.status, await response.json()) == (
            401,
            {"code": "unauthenticated", "message": "用户名或密码错误"},
        )
    development = await aiohttp_client(create_app(settings, clock=clock))
    async with development.post("/ops/login", json=body) as response:
        assert response.status == 200


def _count_staff(url: str) -> int:
    import asyncio

    from sqlalchemy import func, select

    async def count() -> int:
        database = open_database(url)
        try:
            async with UnitOfWork(database.sessions) as uow:
                return int(await uow.session.scalar(select(func.count(StaffRow.id))) or 0)
        finally:
            await database.dispose()

    return asyncio.run(count())


@pytest.mark.parametrize(("env", "expected"), [("production", 0), ("development", 8)])
def test_seed_demo_skips_demo_staff_outside_development(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str, expected: int
) -> None:
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("PARKING_CONFIG", raising=False)
    monkeypatch.setenv("PARKING_ENV", env)
    monkeypatch.setenv("PARKING_SECRET_KEY", OWN_SECRET)
    assert main(["migrate"]) == 0
    assert main(["seed-demo"]) == 0
    assert _count_staff(url.replace("sqlite://", "sqlite+aiosqlite://")) == expected
