"""Use cases of drivers in the mini-program: log in with wx.login, add a phone number."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core import driver_tokens
from core.clock import Clock
from core.drivers import MiniProgramAuth
from core.errors import NotFoundError
from core.store.people import DriverRow
from core.store.unit_of_work import StoreConflictError, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DriverLogin:
    """A signed-in driver and their session token."""

    driver_id: int
    token: driver_tokens.DriverToken
    new_driver: bool


async def log_in(
    uow: UnitOfWork,
    clock: Clock,
    wechat: MiniProgramAuth,
    code: str,
    *,
    secret: str,
    token_minutes: int,
) -> DriverLogin:
    """Exchange a wx.login code and find or create the driver (unionid first, then openid)."""
    session = await wechat.code_to_session(code)
    found = (wechat.appid, session.openid, session.unionid)
    driver, created = await _find_or_create(uow, clock, *found)
    try:
        await uow.commit()
    except StoreConflictError:
        # The same person logged in twice at once; the other request created them first.
        await uow.rollback()
        driver, created = await _find_or_create(uow, clock, *found)
        await uow.commit()
    log.info("driver %s logged in to %s (new: %s)", driver.id, wechat.appid, created)
    token = driver_tokens.issue(driver.id, clock.now(), token_minutes, secret)
    return DriverLogin(driver.id, token, created)


async def find_or_create_driver(
    uow: UnitOfWork, clock: Clock, appid: str, openid: str, unionid: str | None
) -> tuple[DriverRow, bool]:
    """The driver of an app's openid or of the unionid, created when new; does not commit."""
    return await _find_or_create(uow, clock, appid, openid, unionid)


async def _find_or_create(
    uow: UnitOfWork, clock: Clock, appid: str, openid: str, unionid: str | None
) -> tuple[DriverRow, bool]:
    by_openid = await uow.drivers.by_openid(appid, openid)
    by_unionid = await uow.drivers.by_unionid(unionid) if unionid else None
    driver = by_unionid or by_openid
    created = driver is None
    if driver is None:
        driver = DriverRow(unionid=unionid, created_at=clock.now())
        await uow.drivers.add(driver)
    elif unionid and driver.unionid is None:
        driver.unionid = unionid
    if by_openid is None:
        await uow.drivers.add_openid(driver.id, appid, openid)
    elif by_openid.id != driver.id:
        # The openid was recorded before the unionid was known; the person is the
        # unionid's driver. Merging their histories is a support task, so it is logged.
        log.warning("openid of driver %s belongs to unionid driver %s", by_openid.id, driver.id)
    return driver, created


async def add_phone(uow: UnitOfWork, wechat: MiniProgramAuth, driver_id: int, code: str) -> str:
    """Exchange a getPhoneNumber code and keep the number on the driver."""
    driver = await uow.drivers.get(driver_id)
    if driver is None:
        raise NotFoundError("用户不存在", detail=f"driver {driver_id}")
    phone = await wechat.phone_number(code)
    driver.phone = phone
    await uow.commit()
    return phone
