"""Use cases of staff identity: log in with lock-out, authenticate a token, create accounts."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from core import passwords, staff_tokens
from core.clock import Clock
from core.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from core.rate_limits import BackOff, LoginAttempts, minutes_of
from core.services import audit
from core.services.audit import LOGIN_ACTOR
from core.staff import (
    DEMO_PASSWORD,
    AccountLockedError,
    LockoutPolicy,
    LoginState,
    Role,
    Scope,
    StaffIdentity,
    check_merchant_binding,
    is_locked,
    minutes_left,
    scope_within,
)
from core.store.people import StaffRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD, MAX_PASSWORD = 10, 128
BAD_CREDENTIALS = "用户名或密码错误"
INACTIVE = "账号已停用，请联系管理员"


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """The settings a login needs: token secret and lifetime, and the lock-out rule."""

    secret: str
    token_minutes: int
    lockout: LockoutPolicy
    refuse_demo_password: bool = False  # outside development (config/production.py)
    max_lock_minutes: int = 24 * 60  # the back-off doubles a client's lock up to this


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A successful login: the bearer token and who it is for."""

    token: str
    expires_at: datetime
    staff_id: int
    username: str
    role: Role


@dataclass(frozen=True, slots=True)
class StaffAccount:
    """A staff account as shown to administrators; never carries the password hash."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    locked_until: datetime | None
    created_at: datetime
    scope: Scope
    merchant_code: str | None = None


@functools.cache
def _decoy_hash() -> str:
    """A hash to verify against for unknown usernames, so they take as long as known ones."""
    return passwords.hash("decoy-password-never-used")


async def log_in(
    uow: UnitOfWork,
    clock: Clock,
    policy: LoginPolicy,
    username: str,
    password: str,
    *,
    client: str,
    attempts: LoginAttempts,
) -> LoginResult:
    """Check a password and issue a token; wrong ones lock this client out of this account."""
    now = clock.now()
    name = username.strip().lower()
    if policy.refuse_demo_password and password == DEMO_PASSWORD:
        log.warning("refused the demo password for %s outside development", name[:64])
        raise AuthenticationError(BAD_CREDENTIALS, detail="demo password outside development")
    waiting = await attempts.locked_seconds(name, client, now)
    if waiting:
        # No password is checked while locked, so guessing during the lock learns nothing.
        raise AccountLockedError(minutes_of(waiting), retry_after_seconds=waiting)
    row = await uow.staff.by_username(name)
    if row is None:
        await asyncio.to_thread(passwords.verify, _decoy_hash(), password)
        # Counted as for a real account, so locks do not tell which usernames exist.
        await _count_failure(uow, clock, policy, attempts, name, client, None)
    state = LoginState(row.failed_logins, row.locked_until)
    if is_locked(state, now):  # an account an administrator locked
        raise AccountLockedError(minutes_left(state, now))
    if not await asyncio.to_thread(passwords.verify, row.password_hash, password):
        await _count_failure(uow, clock, policy, attempts, name, client, row)
    if not row.active:
        raise AuthenticationError(INACTIVE, detail="inactive account")
    await attempts.succeeded(name, client)
    if passwords.needs_rehash(row.password_hash):
        row.password_hash = await asyncio.to_thread(passwords.hash, password)
    await uow.commit()
    issued = staff_tokens.issue(row.id, row.role, now, policy.token_minutes, policy.secret)
    log.info("staff %s logged in (token %s)", row.username, issued.token_id)
    return LoginResult(issued.token, issued.expires_at, row.id, row.username, Role(row.role))


async def _count_failure(
    uow: UnitOfWork,
    clock: Clock,
    policy: LoginPolicy,
    attempts: LoginAttempts,
    name: str,
    client: str,
    row: StaffRow | None,
) -> NoReturn:
    """Count one more wrong password of this client; audit a lock; raise what the caller sees."""
    backoff = BackOff(
        policy.lockout.max_failed, policy.lockout.lock_minutes, policy.max_lock_minutes
    )
    failures, minutes = await attempts.failed(name, client, clock.now(), backoff)
    log.warning("failed staff login for %s from %s (%d)", name[:64], client, failures)
    if not minutes:
        raise AuthenticationError(BAD_CREDENTIALS, detail="wrong password")
    if row is not None:
        await audit.record(
            uow,
            clock,
            LOGIN_ACTOR,
            "staff.lock",
            f"staff:{row.id}",
            f"{client} 第{failures}次密码错误，该地址锁定{minutes}分钟",
            {"username": row.username, "client": client, "minutes": minutes},
        )
        await uow.commit()
    raise AccountLockedError(minutes)


async def authenticate(uow: UnitOfWork, clock: Clock, secret: str, token: str) -> StaffIdentity:
    """The staff account a bearer token stands for, if it still may act."""
    now = clock.now()
    claims = staff_tokens.decode(token, now, secret)
    row = await uow.staff.by_id(claims.staff_id)
    if row is None or not row.active:
        raise AuthenticationError(INACTIVE, detail="inactive or deleted account")
    state = LoginState(row.failed_logins, row.locked_until)
    if is_locked(state, now):
        raise AccountLockedError(minutes_left(state, now))
    scope = await uow.staff.scopes_of(row.id)
    # The stored role wins over the token's, so a changed role applies at once.
    return StaffIdentity(row.id, row.username, Role(row.role), scope, row.merchant_code)


async def add_staff(
    uow: UnitOfWork,
    clock: Clock,
    actor: StaffIdentity | str,
    *,
    username: str,
    password: str,
    role: Role,
    scope: Scope,
    reason: str,
    display_name: str | None = None,
    merchant_code: str | None = None,
) -> StaffAccount:
    """Add an account and audit it, in the caller's transaction (the caller commits)."""
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise ValidationFailedError("用户名须为3至64位小写字母、数字、点、下划线或连字符")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationFailedError(f"密码长度须为{MIN_PASSWORD}至{MAX_PASSWORD}位")
    shown = (display_name or name).strip()
    if not shown or len(shown) > 64:
        raise ValidationFailedError("显示名称须为1至64个字符")
    if not reason.strip():
        raise ValidationFailedError("请填写操作原因")
    if isinstance(actor, StaffIdentity) and not scope_within(scope, actor.scope):
        raise PermissionDeniedError("不能创建超出自身管辖范围的账号")
    check_merchant_binding(role, merchant_code)
    if merchant_code is not None and await uow.lots.merchant(merchant_code) is None:
        raise NotFoundError("商户不存在", detail=merchant_code)
    if await uow.staff.by_username(name) is not None:
        raise ConflictError("用户名已存在")
    row = StaffRow(
        username=name,
        display_name=shown,
        role=role.value,
        password_hash=await asyncio.to_thread(passwords.hash, password),
        active=True,
        failed_logins=0,
        locked_until=None,
        created_at=clock.now(),
        merchant_code=merchant_code,
    )
    await uow.staff.add(row, scope)
    details = {"username": name, "display_name": shown, "role": role.value}
    if merchant_code is not None:
        details["merchant_code"] = merchant_code
    await audit.record(
        uow, clock, actor, "staff.create", f"staff:{row.id}", reason, details | scope.as_dict()
    )
    return account_of(row, scope)


async def create_staff(
    uow: UnitOfWork,
    clock: Clock,
    actor: StaffIdentity | str,
    *,
    username: str,
    password: str,
    role: Role,
    scope: Scope,
    reason: str,
    display_name: str | None = None,
    merchant_code: str | None = None,
) -> StaffAccount:
    """Create an account, audited, and commit."""
    account = await add_staff(
        uow,
        clock,
        actor,
        username=username,
        password=password,
        role=role,
        scope=scope,
        reason=reason,
        display_name=display_name,
        merchant_code=merchant_code,
    )
    await uow.commit()
    return account


async def list_staff(uow: UnitOfWork, *, after_id: int | None, limit: int) -> list[StaffAccount]:
    """Accounts in id order, a page at a time."""
    rows = await uow.staff.page(after_id=after_id, limit=limit)
    scopes = await uow.staff.scopes_for([row.id for row in rows])
    return [account_of(row, scopes[row.id]) for row in rows]


async def account(uow: UnitOfWork, staff_id: int) -> StaffAccount | None:
    """One account with its scope."""
    row = await uow.staff.by_id(staff_id)
    if row is None:
        return None
    return account_of(row, await uow.staff.scopes_of(staff_id))


def account_of(row: StaffRow, scope: Scope) -> StaffAccount:
    """The administrator's view of a stored account."""
    return StaffAccount(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        active=row.active,
        locked_until=row.locked_until,
        created_at=row.created_at,
        scope=scope,
        merchant_code=row.merchant_code,
    )
