"""Fixtures and helpers: the app paying through the WeChat sandbox over real localhost HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer, unused_port
from pydantic import SecretStr
from sqlalchemy import select

from config.settings import Settings
from core.clock import FrozenClock
from core.ledger import stay_charged
from core.store.activity import StayRow
from core.store.database import Database
from core.store.people import DriverOpenidRow, DriverRow, VehicleBindingRow, VehicleRow
from core.store.unit_of_work import UnitOfWork
from sandbox import server as sandbox_server
from sandbox.wechatpay.keys import MERCHANT_KEY_FILE, SandboxKeys, generate_keys
from server.wechat import NOTIFY_PATH, WECHAT_SERVICES_KEY, WeChatServices

SP_MCHID = "1900000100"
APPID = "wx5a0db0c0e0f1a2b3"
SECRET = "test-miniprogram-secret-00000001"
REFUND_TEMPLATE = "tpl-refund-notice"
PLATE = "浙B12345"

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture(scope="session")
def sandbox_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SandboxKeys, Path]:
    """One set of sandbox keys for the whole run (RSA key generation is slow)."""
    folder = tmp_path_factory.mktemp("sandbox-keys")
    keys = generate_keys()
    keys.save(folder)
    return keys, folder


@pytest.fixture
async def wechat_sandbox(
    sandbox_keys: tuple[SandboxKeys, Path],
    clock: FrozenClock,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> TestServer:
    """WeChat and WeChat Pay stand-ins on their own localhost port, on the test clock."""
    keys, _ = sandbox_keys
    app = sandbox_server.create_app(keys, sp_mchid=SP_MCHID, apps={APPID: SECRET}, clock=clock)
    return await aiohttp_server(app)


def sandbox_url(server: TestServer) -> str:
    """The base URL clients use for the sandbox."""
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def make_paying_client(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    wechat_sandbox: TestServer,
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> MakeClient:
    """Build the whole app configured like production, but pointing at the sandbox."""
    keys, folder = sandbox_keys

    async def make(*, notify_url: str | None = None) -> TestClient[Any, Any]:
        port = unused_port()
        configured = settings.model_copy(
            update={
                "wechatpay_sp_mchid": SP_MCHID,
                "wechatpay_api_v3_key": SecretStr(keys.api_v3_key),
                "wechatpay_private_key_path": str(folder / MERCHANT_KEY_FILE),
                "wechatpay_cert_serial_no": keys.merchant_serial_no,
                "wechatpay_base_url": sandbox_url(wechat_sandbox),
                "wechatpay_notify_url": notify_url or f"http://127.0.0.1:{port}{NOTIFY_PATH}",
                "miniprogram_appid": APPID,
                "miniprogram_secret": SecretStr(SECRET),
                "wechat_api_base_url": sandbox_url(wechat_sandbox),
                "refund_template_id": REFUND_TEMPLATE,
                "licence_register": "sandbox",
                "sms_provider": "sandbox",
            }
        )
        from server.app import create_app

        return await aiohttp_client(
            create_app(configured, clock=clock), server_kwargs={"port": port}
        )

    return make


@pytest.fixture
async def paying_client(make_paying_client: MakeClient) -> TestClient[Any, Any]:
    """The app, paying through the sandbox, with notifications reaching it."""
    return await make_paying_client()


def services(client: TestClient[Any, Any]) -> WeChatServices:
    """The adapters the running app built."""
    app = client.app
    assert app is not None
    built: WeChatServices = app[WECHAT_SERVICES_KEY]
    return built


@dataclass(frozen=True, slots=True)
class Driver:
    """A signed-in driver of the test."""

    token: str
    openid: str
    unionid: str
    driver_id: int

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of this driver."""
        return {"Authorization": f"Bearer {self.token}"}


async def sandbox_post(
    client: TestClient[Any, Any], server: TestServer, path: str, body: dict[str, Any]
) -> Any:
    """POST to a sandbox-only endpoint and return its JSON."""
    async with client.session.post(f"{sandbox_url(server)}{path}", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def log_in(client: TestClient[Any, Any], server: TestServer, person: str) -> Driver:
    """wx.login in the sandbox, then /mp/login with the code."""
    issued = await sandbox_post(
        client, server, "/sandbox/wechat/login", {"appid": APPID, "person": person}
    )
    response = await client.post("/mp/login", json={"code": issued["code"]})
    assert response.status == 200, await response.text()
    body = await response.json()
    return Driver(body["token"], issued["openid"], issued["unionid"], body["driver_id"])


async def street_stay(
    database: Database,
    *,
    plate: str = PLATE,
    fee_fen: int | None = 800,
    status: str = "closed",
    exited_at: datetime,
    berth_code: str = "HS1-001",
    hours: float = 2,
    charged: bool = False,
) -> str:
    """An on-street stay at a demo berth, written as the store holds it (charged if asked)."""
    ref = uuid.uuid4().hex[:20]
    async with UnitOfWork(database.sessions) as uow:
        berth = await uow.city.berth_by_code(berth_code)
        assert berth is not None and berth.zone_id is not None
        zone = await uow.city.zone(berth.zone_id)
        uow.stays.add(
            StayRow(
                ref=ref,
                plate=plate,
                operator_id=zone.operator_id,
                zone_id=zone.id,
                berth_id=berth.id,
                status=status,
                entered_at=exited_at - timedelta(hours=hours),
                exited_at=None if status == "open" else exited_at,
                fee_fen=fee_fen,
            )
        )
        if charged and fee_fen:
            operator = await uow.city.operator(zone.operator_id)
            await uow.ledger.post(stay_charged(ref, plate, operator.code, fee_fen), exited_at)
        await uow.commit()
    return ref


async def closed_stay(
    database: Database, clock: FrozenClock, fee_fen: int = 800, *, status: str = "closed"
) -> str:
    """A priced on-street stay of OP-CITY's zone HS1, charged in the ledger."""
    return await street_stay(
        database, fee_fen=fee_fen, status=status, exited_at=clock.now(), charged=True
    )


async def start_payment(
    client: TestClient[Any, Any], driver: Driver, stay_ref: str, key: str = "tap-0000001"
) -> dict[str, Any]:
    """POST /mp/stays/{ref}/payments and return the answer."""
    response = await client.post(
        f"/mp/stays/{stay_ref}/payments", json={"idempotency_key": key}, headers=driver.headers
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def confirm(
    client: TestClient[Any, Any], server: TestServer, started: dict[str, Any], driver: Driver
) -> dict[str, Any]:
    """The payer confirms wx.requestPayment in WeChat (the sandbox checks paySign)."""
    body = dict(started["request_payment"], openid=driver.openid)
    result: dict[str, Any] = await sandbox_post(
        client, server, "/sandbox/wechatpay/request-payment", body
    )
    return result


async def balance(database: Database, account: str) -> int:
    """A ledger account's balance."""
    async with UnitOfWork(database.sessions) as uow:
        return await uow.ledger.balance_fen(account)


async def entry_kinds(database: Database, reference: str) -> list[str]:
    """Kinds of the ledger entries posted for a reference, in order."""
    async with UnitOfWork(database.sessions) as uow:
        return [entry.kind for entry, _ in await uow.ledger.entries_for(reference)]


async def app_with_builtin_sandbox(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: MakeClient,
    *,
    before_start: Callable[[Any], None] | None = None,
) -> tuple[TestClient[Any, Any], str]:
    """The whole app as `make run` serves it (sandbox inside), and the sandbox's base URL."""
    from server.app import create_app
    from server.wechat import SANDBOX_KEY

    port = unused_port()
    configured = settings.model_copy(
        update={
            "wechat_sandbox": True,
            "sandbox_port": 0,
            "sandbox_keys_dir": str(sandbox_keys[1]),
            "port": port,
        }
    )
    app = create_app(configured, clock=clock)
    if before_start is not None:
        before_start(app)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    return client, app[SANDBOX_KEY].base_url


async def log_in_driver(
    client: TestClient[Any, Any], sandbox: str, person: str
) -> tuple[dict[str, str], str]:
    """Sign a sandbox person in through wx.login; the auth headers and their openid."""
    from server.wechat import SANDBOX_APPID

    async with client.session.post(
        f"{sandbox}/sandbox/wechat/login", json={"appid": SANDBOX_APPID, "person": person}
    ) as response:
        issued = await response.json()
    login = await client.post("/mp/login", json={"code": issued["code"]})
    assert login.status == 200, await login.text()
    token = (await login.json())["token"]
    return {"Authorization": f"Bearer {token}"}, str(issued["openid"])


async def bind_plate(uow: UnitOfWork, clock: FrozenClock, plate: str) -> tuple[int, int]:
    """Two drivers of a plate: one whose binding is verified, one who only typed it; commits."""
    owner = DriverRow(unionid=f"u-owner-{plate}", created_at=clock.now())
    typist = DriverRow(unionid=f"u-typist-{plate}", created_at=clock.now())
    vehicle = VehicleRow(plate=plate, plate_colour="BLUE")
    uow.session.add_all([owner, typist, vehicle])
    await uow.session.flush()
    verified = VehicleBindingRow(
        driver_id=owner.id,
        vehicle_id=vehicle.id,
        created_at=clock.now(),
        verified_at=clock.now(),
        verified_by="licence",
    )
    typed = VehicleBindingRow(driver_id=typist.id, vehicle_id=vehicle.id, created_at=clock.now())
    uow.session.add_all([verified, typed])
    await uow.commit()
    return owner.id, typist.id


async def verified_driver_of(
    database: Database, clock: FrozenClock, openid: str, plate: str
) -> int:
    """The driver signed in as `openid`, with a verified binding of `plate`; their id."""
    async with UnitOfWork(database.sessions) as uow:
        driver_id = await uow.session.scalar(
            select(DriverOpenidRow.driver_id).where(DriverOpenidRow.openid == openid)
        )
        assert driver_id is not None
        vehicle = VehicleRow(plate=plate, plate_colour="BLUE")
        uow.session.add(vehicle)
        await uow.session.flush()
        uow.session.add(
            VehicleBindingRow(
                driver_id=driver_id,
                vehicle_id=vehicle.id,
                created_at=clock.now(),
                verified_at=clock.now(),
                verified_by="licence",
            )
        )
        await uow.commit()
    return int(driver_id)


async def quiet_app(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: MakeClient,
    *,
    before_start: Callable[[Any], None] | None = None,
    **update: Any,
) -> tuple[TestClient[Any, Any], str]:
    """The app as `make run` serves it with its sweep off (tests run it by hand)."""
    return await app_with_builtin_sandbox(
        settings.model_copy(update={"payments_sweep_seconds": 0, **update}),
        clock,
        sandbox_keys,
        aiohttp_client,
        before_start=before_start,
    )
