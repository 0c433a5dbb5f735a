"""Staff routes: log in, who am I, manage accounts, read and verify the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.audit import AuditLink, ProblemKind
from core.errors import NotFoundError
from core.services import audit as audit_service
from core.services import staff as staff_service
from core.staff import (
    ROLE_NAMES_ZH,
    Permission,
    Role,
    Scope,
    ScopeKind,
    permissions_of,
    scope_from_entries,
)
from ops_api.auth import acting_staff, login_policy
from server.http import ApiRoutes, json_response
from server.input_limits import INT32_MAX
from server.rate_limits import client_address, limit_rate, login_attempts
from server.resources import SETTINGS_KEY, clock, unit_of_work

routes = ApiRoutes("ops")


class StaffLoginIn(BaseModel):
    """Username and password of a staff account."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class StaffLoginOut(BaseModel):
    """A bearer token for the `Authorization` header and when it expires."""

    token: str
    token_type: str = "Bearer"
    expires_at: datetime
    username: str
    role: Role


class ScopeModel(BaseModel):
    """Operators, districts and lots (by code) an account may act on; all empty = city-wide."""

    operators: list[str] = Field(default_factory=list, max_length=100)
    districts: list[str] = Field(default_factory=list, max_length=100)
    lots: list[str] = Field(default_factory=list, max_length=500)

    def to_scope(self) -> Scope:
        """The pure scope value; codes are checked."""
        pairs = [(ScopeKind.OPERATOR.value, code) for code in self.operators]
        pairs += [(ScopeKind.DISTRICT.value, code) for code in self.districts]
        pairs += [(ScopeKind.LOT.value, code) for code in self.lots]
        return scope_from_entries(pairs)

    @classmethod
    def of(cls, scope: Scope) -> ScopeModel:
        """The wire form of a scope."""
        return cls.model_validate(scope.as_dict())


class MeOut(BaseModel):
    """The calling account, its role's permissions and its scope."""

    id: int
    username: str
    display_name: str
    role: Role
    role_name: str
    permissions: list[Permission]
    scope: ScopeModel
    city_wide: bool
    merchant_code: str | None = Field(None, description="the merchant a merchant account acts for")


class StaffOut(BaseModel):
    """A staff account as administrators see it (never its password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    locked_until: datetime | None
    created_at: datetime
    scope: ScopeModel
    merchant_code: str | None = None


class StaffListQuery(BaseModel):
    """Keyset page: accounts with id greater than `after`."""

    after: int | None = Field(None, ge=0, le=INT32_MAX)
    limit: int = Field(50, ge=1, le=200)


class StaffListOut(BaseModel):
    """One page of accounts; pass `next_after` as `after` for the next page."""

    items: list[StaffOut]
    next_after: int | None


class StaffCreateIn(BaseModel):
    """A new account; the reason goes into the audit log."""

    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=10, max_length=128)
    role: Role
    display_name: str | None = Field(None, max_length=64)
    scope: ScopeModel = Field(default_factory=ScopeModel)
    merchant_code: str | None = Field(
        None, min_length=1, max_length=32, description="required for (only for) role merchant"
    )
    reason: str = Field(min_length=2, max_length=500)


class AuditQuery(BaseModel):
    """Keyset page, newest first: links with id below `before`; optional exact filters."""

    before: int | None = Field(None, ge=1, le=INT32_MAX)
    limit: int = Field(50, ge=1, le=200)
    actor: str | None = Field(None, max_length=64)
    action: str | None = Field(None, max_length=64)
    target: str | None = Field(None, max_length=128)


class AuditLinkOut(BaseModel):
    """One audit entry: who did what to what, when and why, with its chain hashes."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    reason: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    """One page of audit entries; pass `next_before` as `before` for older ones."""

    items: list[AuditLinkOut]
    next_before: int | None


class AuditProblemOut(BaseModel):
    """One finding of the chain verification."""

    link_id: int
    kind: ProblemKind
    detail: str


class AuditVerifyOut(BaseModel):
    """Whether the audit chain is intact, how many links were checked and what is wrong."""

    intact: bool
    checked: int
    problems: list[AuditProblemOut]


def _staff_out(account: staff_service.StaffAccount) -> StaffOut:
    return StaffOut(
        id=account.id,
        username=account.username,
        display_name=account.display_name,
        role=account.role,
        active=account.active,
        locked_until=account.locked_until,
        created_at=account.created_at,
        scope=ScopeModel.of(account.scope),
        merchant_code=account.merchant_code,
    )


def _link_out(link: AuditLink) -> AuditLinkOut:
    return AuditLinkOut(
        id=link.id,
        at=link.at,
        actor=link.actor,
        action=link.action,
        target=link.target,
        reason=link.reason,
        details=link.details,
        prev_hash=link.prev_hash,
        hash=link.hash,
    )


@routes.route("POST", "/login", "Log a staff member in", body=StaffLoginIn, response=StaffLoginOut)
async def log_in(request: web.Request, body: StaffLoginIn) -> web.Response:
    """Exchange username and password for a short-lived bearer token."""
    settings = request.config_dict[SETTINGS_KEY]
    await limit_rate(request, "login", settings.login_rate_per_minute)
    policy = login_policy(settings)
    async with unit_of_work(request) as uow:
        result = await staff_service.log_in(
            uow,
            clock(request),
            policy,
            body.username,
            body.password,
            client=client_address(request),
            attempts=login_attempts(request),
        )
    return json_response(
        StaffLoginOut(
            token=result.token,
            expires_at=result.expires_at,
            username=result.username,
            role=result.role,
        )
    )


@routes.route("GET", "/me", "The calling staff account", response=MeOut, permission=Permission.SELF)
async def show_me(request: web.Request, _: None) -> web.Response:
    """Show who the token belongs to and what it may do."""
    identity = acting_staff(request)
    async with unit_of_work(request) as uow:
        found = await staff_service.account(uow, identity.id)
    if found is None:
        raise NotFoundError("账号不存在")
    return json_response(
        MeOut(
            id=found.id,
            username=found.username,
            display_name=found.display_name,
            role=found.role,
            role_name=ROLE_NAMES_ZH[found.role],
            permissions=sorted(permissions_of(found.role)),
            scope=ScopeModel.of(found.scope),
            city_wide=found.scope.city_wide,
            merchant_code=found.merchant_code,
        )
    )


@routes.route(
    "GET",
    "/staff",
    "List staff accounts",
    query=StaffListQuery,
    response=StaffListOut,
    permission=Permission.STAFF_MANAGE,
)
async def list_staff(request: web.Request, query: StaffListQuery) -> web.Response:
    """List accounts a page at a time, in id order."""
    async with unit_of_work(request) as uow:
        accounts = await staff_service.list_staff(uow, after_id=query.after, limit=query.limit)
    next_after = accounts[-1].id if len(accounts) == query.limit else None
    return json_response(
        StaffListOut(items=[_staff_out(a) for a in accounts], next_after=next_after)
    )


@routes.route(
    "POST",
    "/staff",
    "Create a staff account (audited)",
    body=StaffCreateIn,
    response=StaffOut,
    permission=Permission.STAFF_MANAGE,
    status=201,
)
async def create_staff(request: web.Request, body: StaffCreateIn) -> web.Response:
    """Create an account within the creator's own scope; the reason is audited."""
    async with unit_of_work(request) as uow:
        created = await staff_service.create_staff(
            uow,
            clock(request),
            acting_staff(request),
            username=body.username,
            password=body.password,
            role=body.role,
            scope=body.scope.to_scope(),
            reason=body.reason,
            display_name=body.display_name,
            merchant_code=body.merchant_code,
        )
    return json_response(_staff_out(created), status=201)


@routes.route(
    "GET",
    "/audit",
    "Read the audit log, newest first",
    query=AuditQuery,
    response=AuditPageOut,
    permission=Permission.AUDIT_READ,
)
async def list_audit(request: web.Request, query: AuditQuery) -> web.Response:
    """Page through audit entries with optional actor, action and target filters."""
    async with unit_of_work(request) as uow:
        links = await uow.audit.page(
            before_id=query.before,
            limit=query.limit,
            actor=query.actor,
            action=query.action,
            target=query.target,
        )
    next_before = links[-1].id if len(links) == query.limit else None
    return json_response(
        AuditPageOut(items=[_link_out(link) for link in links], next_before=next_before)
    )


@routes.route(
    "GET",
    "/audit/verify",
    "Verify the audit log's hash chain",
    response=AuditVerifyOut,
    permission=Permission.AUDIT_READ,
)
async def verify_audit(request: web.Request, _: None) -> web.Response:
    """Walk the whole chain and report every changed, removed or reordered entry."""
    async with unit_of_work(request) as uow:
        report = await audit_service.check_chain(uow)
    problems = [
        AuditProblemOut(link_id=p.link_id, kind=p.kind, detail=p.detail) for p in report.problems
    ]
    return json_response(
        AuditVerifyOut(intact=report.intact, checked=report.checked, problems=problems)
    )
