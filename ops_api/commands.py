"""Staff and audit commands of the `parking` console script, and the demo staff accounts."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from config.settings import Settings
from core.clock import Clock, SystemClock
from core.errors import DomainError
from core.services.audit import CLI_ACTOR, SEED_ACTOR, check_chain
from core.services.staff import add_staff, create_staff
from core.staff import DEMO_PASSWORD, Role, parse_role, parse_scope
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork

__all__ = ["DEMO_PASSWORD", "DEMO_STAFF", "seed_demo_staff"]


@dataclass(frozen=True, slots=True)
class DemoStaff:
    """One demo account: a username, its role, its display name and its scope words."""

    username: str
    role: Role
    display_name: str
    scope: tuple[str, ...] = ()
    merchant_code: str | None = None


DEMO_STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("demo-admin", Role.ADMIN, "演示管理员"),
    DemoStaff("demo-finance", Role.FINANCE, "演示财务"),
    DemoStaff("demo-cashier", Role.CASHIER, "演示收费员（第一医院）", ("lot:LOT-HOSP",)),
    DemoStaff(
        "demo-officer", Role.ENFORCEMENT_OFFICER, "演示巡查员（海曙）", ("district:D-HAISHU",)
    ),
    DemoStaff("demo-support", Role.SUPPORT_AGENT, "演示客服"),
    DemoStaff("demo-attendant", Role.REMOTE_ATTENDANT, "演示云坐席"),
    DemoStaff("demo-viewer", Role.VIEWER, "演示只读用户"),
    DemoStaff(
        "demo-merchant", Role.MERCHANT, "演示商户（天一咖啡）", merchant_code="M-TIANYI-CAFE"
    ),
)


async def seed_demo_staff(uow: UnitOfWork, clock: Clock) -> None:
    """Add one demo account per role (password DEMO_PASSWORD), skipping existing ones.

    Runs in the caller's unit of work; the caller commits.
    """
    for demo in DEMO_STAFF:
        if await uow.staff.by_username(demo.username) is not None:
            continue
        await add_staff(
            uow,
            clock,
            SEED_ACTOR,
            username=demo.username,
            password=DEMO_PASSWORD,
            role=demo.role,
            scope=parse_scope(demo.scope),
            reason="载入演示账号",
            display_name=demo.display_name,
            merchant_code=demo.merchant_code,
        )


async def verify_audit_command(settings: Settings) -> int:
    """Check the audit hash chain; print every problem and return 1 if there is any."""
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions) as uow:
            report = await check_chain(uow)
    finally:
        await database.dispose()
    for problem in report.problems:
        print(f"link {problem.link_id}: {problem.kind} - {problem.detail}")
    if report.intact:
        print(f"audit chain intact: {report.checked} links checked")
        return 0
    print(
        f"audit chain BROKEN: {len(report.problems)} problems in {report.checked} links",
        file=sys.stderr,
    )
    return 1


async def create_staff_command(
    settings: Settings,
    username: str,
    password: str | None,
    role: str,
    scopes: Sequence[str],
    *,
    reason: str = "通过命令行创建",
    clock: Clock | None = None,
    merchant: str | None = None,
) -> int:
    """Create a staff account from the command line (audited as system:cli); 0 on success.

    `scopes` are `kind:code` words such as `lot:LOT-HOSP`; none means city-wide. Without a
    password the command asks for one, so it need not appear in the shell history.
    """
    try:
        parsed_role, scope = parse_role(role), parse_scope(scopes)
    except DomainError as exc:
        print(f"error: {exc.message_zh}", file=sys.stderr)
        return 2
    secret = password if password is not None else getpass.getpass("password: ")
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions) as uow:
            account = await create_staff(
                uow,
                clock or SystemClock(),
                CLI_ACTOR,
                username=username,
                password=secret,
                role=parsed_role,
                scope=scope,
                reason=reason,
                merchant_code=merchant,
            )
    except DomainError as exc:
        print(f"error: {exc.message_zh} ({exc.code})", file=sys.stderr)
        return 1
    finally:
        await database.dispose()
    where = "city-wide" if scope.city_wide else ", ".join(f"{k}:{c}" for k, c in scope.entries())
    print(f"created staff #{account.id} {account.username} ({account.role}, {where})")
    return 0
