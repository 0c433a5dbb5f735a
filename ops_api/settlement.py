"""Finance routes of settlement: operators' contracts, profit sharing runs, monthly statements."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from aiohttp import web
from pydantic import BaseModel, Field

from adapters.xlsx import to_xlsx
from core.errors import NotFoundError
from core.payments import SHANGHAI
from core.services import profit_sharing, settlement
from core.settlement import Statement, statement_sheet
from core.shares import DEFAULT_MAX_SHARE_BP, Contract, ReceiverAccount, ShareBasis
from core.sheets import Sheet, to_csv
from core.staff import Permission, covers
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import clock, read_unit_of_work, unit_of_work
from server.wechat import wechat

routes = ApiRoutes("ops")

MCHID = r"^[0-9]{8,12}$"


class ContractIn(BaseModel):
    """A new version of the operator's contract (percent or concession fee, plan 5)."""

    basis: ShareBasis
    city_mchid: str = Field(pattern=MCHID, description="the city body's WeChat Pay merchant")
    city_name: str = Field(min_length=2, max_length=128, description="its full registered name")
    platform_mchid: str = Field(pattern=MCHID)
    platform_name: str = Field(min_length=2, max_length=128)
    city_bp: int = Field(0, ge=0, le=10_000, description="the city's share, basis points")
    platform_bp: int = Field(0, ge=0, le=10_000, description="the platform's share")
    concession_fen_per_berth: int = Field(0, ge=0, le=10_000_000, description="fen a month")
    max_share_bp: int = Field(DEFAULT_MAX_SHARE_BP, ge=1, le=10_000)
    starts_on: date | None = Field(None, description="Beijing day it applies from; today")
    reason: str = Field(min_length=2, max_length=500)


class ContractOut(BaseModel):
    """The contract in force."""

    operator_code: str
    basis: ShareBasis
    city_mchid: str
    city_name: str
    platform_mchid: str
    platform_name: str
    city_bp: int
    platform_bp: int
    concession_fen_per_berth: int
    max_share_bp: int
    starts_on: date | None


class SharingRunIn(BaseModel):
    """The Beijing day whose payments are shared."""

    date: date


class SharingRunOut(BaseModel):
    """What a profit sharing run did."""

    date: date
    orders_finished: int
    shared_fen: int
    returned_fen: int
    failed: list[str] = Field(description="share orders left open; the next run sends them")


class StatementMonthQuery(BaseModel):
    """A month, as YYYY-MM."""

    month: str = Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")


class ExportFormat(StrEnum):
    """What a clerk downloads."""

    CSV = "csv"
    XLSX = "xlsx"


class StatementExportQuery(StatementMonthQuery):
    """A month and a file format."""

    format: ExportFormat = ExportFormat.XLSX


class StatementOut(BaseModel):
    """An operator's month in fen; `reconciled` says the ledger agrees to the fen."""

    operator_code: str
    operator_name: str
    sub_mchid: str
    month: date
    basis: ShareBasis | None
    payments_fen: int
    payments_count: int
    refunds_fen: int
    shares_sent: dict[str, int]
    shares_returned: dict[str, int]
    net_fen: int
    ledger_clearing_fen: int
    reconciled: bool
    concession_due_fen: int
    concession_paid_fen: int
    concession_outstanding_fen: int
    arrears_recovered_fen: int
    written_off_fen: int


def _contract_out(contract: Contract) -> ContractOut:
    return ContractOut(
        operator_code=contract.operator_code,
        basis=contract.basis,
        city_mchid=contract.city.mchid,
        city_name=contract.city.name,
        platform_mchid=contract.platform.mchid,
        platform_name=contract.platform.name,
        city_bp=contract.city_bp,
        platform_bp=contract.platform_bp,
        concession_fen_per_berth=contract.concession_fen_per_berth,
        max_share_bp=contract.max_share_bp,
        starts_on=contract.starts_on,
    )


def _check_scope(request: web.Request, operator_code: str) -> None:
    # An account limited to other operators learns nothing about this one.
    if not covers(acting_staff(request).scope, operator_code=operator_code):
        raise NotFoundError("未找到该运营单位", detail=operator_code)


@routes.route(
    "POST",
    "/operators/{code}/contracts",
    "Set a new version of an operator's share contract (audited)",
    body=ContractIn,
    response=ContractOut,
    permission=Permission.SETTLEMENT_MANAGE,
)
async def set_contract(request: web.Request, body: ContractIn) -> web.Response:
    """Store the contract; payments opened from its start day are made with profit sharing."""
    code = request.match_info["code"]
    _check_scope(request, code)
    contract = Contract(
        operator_code=code,
        basis=body.basis,
        city=ReceiverAccount(body.city_mchid, body.city_name.strip()),
        platform=ReceiverAccount(body.platform_mchid, body.platform_name.strip()),
        city_bp=body.city_bp,
        platform_bp=body.platform_bp,
        concession_fen_per_berth=body.concession_fen_per_berth,
        max_share_bp=body.max_share_bp,
        starts_on=body.starts_on,
    )
    async with unit_of_work(request) as uow:
        stored = await settlement.set_contract(
            uow, clock(request), acting_staff(request), contract, body.reason
        )
    return json_response(_contract_out(stored))


@routes.route(
    "GET",
    "/operators/{code}/contract",
    "The operator's contract in force today",
    response=ContractOut,
    permission=Permission.REPORTS_READ,
)
async def show_contract(request: web.Request, _: None) -> web.Response:
    """The contract, or 404 when the operator has none."""
    code = request.match_info["code"]
    _check_scope(request, code)
    today = clock(request).now().astimezone(SHANGHAI).date()
    async with read_unit_of_work(request) as uow:
        contract = await uow.settlement.contract(code, today)
    if contract is None:
        raise NotFoundError("该运营单位没有分账合同", detail=code)
    return json_response(_contract_out(contract))


@routes.route(
    "POST",
    "/profit-sharing/runs",
    "Share one Beijing day's payments and return shares of refunds (idempotent per day)",
    body=SharingRunIn,
    response=SharingRunOut,
    permission=Permission.SETTLEMENT_MANAGE,
)
async def run_sharing(request: web.Request, body: SharingRunIn) -> web.Response:
    """Run the daily profit sharing job by hand."""
    done = await profit_sharing.run_profit_sharing(
        lambda: unit_of_work(request),
        clock(request),
        wechat(request).profit_sharing,
        body.date,
    )
    return json_response(
        SharingRunOut(
            date=done.period,
            orders_finished=done.orders_finished,
            shared_fen=done.shared_fen,
            returned_fen=done.returned_fen,
            failed=list(done.failed),
        )
    )


async def _statement(request: web.Request, month: str) -> Statement:
    code = request.match_info["code"]
    _check_scope(request, code)
    async with read_unit_of_work(request) as uow:
        return await settlement.monthly_statement(uow, code, date.fromisoformat(f"{month}-01"))


@routes.route(
    "GET",
    "/settlement/statements/{code}",
    "An operator's monthly settlement statement, checked against the ledger",
    query=StatementMonthQuery,
    response=StatementOut,
    permission=Permission.REPORTS_READ,
)
async def show_statement(request: web.Request, query: StatementMonthQuery) -> web.Response:
    """The statement as JSON."""
    found = await _statement(request, query.month)
    return json_response(
        StatementOut(
            operator_code=found.operator_code,
            operator_name=found.operator_name,
            sub_mchid=found.sub_mchid,
            month=found.month,
            basis=found.basis,
            payments_fen=found.payments_fen,
            payments_count=found.payments_count,
            refunds_fen=found.refunds_fen,
            shares_sent=found.shares_sent,
            shares_returned=found.shares_returned,
            net_fen=found.net_fen,
            ledger_clearing_fen=found.ledger_clearing_fen,
            reconciled=found.reconciled,
            concession_due_fen=found.concession_due_fen,
            concession_paid_fen=found.concession_paid_fen,
            concession_outstanding_fen=found.concession_outstanding_fen,
            arrears_recovered_fen=found.arrears_recovered_fen,
            written_off_fen=found.written_off_fen,
        )
    )


@routes.route(
    "GET",
    "/settlement/statements/{code}/export",
    "The statement as XLSX or CSV, with Chinese headers and yuan amounts",
    query=StatementExportQuery,
    permission=Permission.REPORTS_READ,
)
async def export_statement(request: web.Request, query: StatementExportQuery) -> web.Response:
    """A file to print and sign."""
    found = await _statement(request, query.month)
    name = f"settlement-{found.operator_code}-{query.month}"
    return sheet_file(statement_sheet(found), query.format, name)


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_file(sheet: Sheet, format: ExportFormat, name: str) -> web.Response:
    """A sheet as a download in the chosen format."""
    headers = {"Content-Disposition": f'attachment; filename="{name}.{format.value}"'}
    if format is ExportFormat.CSV:
        return web.Response(
            body=to_csv(sheet), content_type="text/csv", charset="utf-8", headers=headers
        )
    return web.Response(body=to_xlsx(sheet), content_type=XLSX_TYPE, headers=headers)
