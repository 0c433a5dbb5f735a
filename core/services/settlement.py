"""Use cases of settlement: operators' contracts (audited) and monthly statements.

`run_monthly_statements(uows, period_date)` is the monthly job: the statement of every operator
for the month of `period_date`. It reads only, so it may run any number of times.
"""

from __future__ import annotations

from datetime import date

from core.clock import Clock
from core.errors import NotFoundError
from core.ledger import Account, AccountKind
from core.payments import SHANGHAI
from core.services import audit
from core.services.retrying import Uows
from core.settlement import Statement, month_bounds, month_of
from core.shares import Contract, concession_due
from core.staff import StaffIdentity
from core.store.settlement import ContractRow
from core.store.unit_of_work import UnitOfWork


class OperatorNotFoundError(NotFoundError):
    """No operator has this code."""

    code = "operator_not_found"
    message_zh = "未找到该运营单位"


async def set_contract(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, contract: Contract, reason: str
) -> Contract:
    """Store a new version of an operator's contract from its start day; audited, commits."""
    if await uow.settlement.operator(contract.operator_code) is None:
        raise OperatorNotFoundError(detail=contract.operator_code)
    starts_on = contract.starts_on or clock.now().astimezone(SHANGHAI).date()
    uow.settlement.add_contract(
        ContractRow(
            operator_code=contract.operator_code,
            basis=contract.basis.value,
            city_mchid=contract.city.mchid,
            city_name=contract.city.name,
            platform_mchid=contract.platform.mchid,
            platform_name=contract.platform.name,
            city_bp=contract.city_bp,
            platform_bp=contract.platform_bp,
            concession_fen_per_berth=contract.concession_fen_per_berth,
            max_share_bp=contract.max_share_bp,
            starts_on=starts_on,
            created_by=staff.actor,
            created_at=clock.now(),
        )
    )
    details = {
        "basis": contract.basis.value,
        "city_bp": contract.city_bp,
        "platform_bp": contract.platform_bp,
        "concession_fen_per_berth": contract.concession_fen_per_berth,
        "starts_on": starts_on.isoformat(),
    }
    target = f"contract:{contract.operator_code}"
    await audit.record(uow, clock, staff, "contract.set", target, reason, details)
    await uow.commit()
    return contract


async def monthly_statement(uow: UnitOfWork, operator_code: str, month: date) -> Statement:
    """An operator's statement of the Beijing month `month` is in, with the ledger's figure."""
    operator = await uow.settlement.operator(operator_code)
    if operator is None:
        raise OperatorNotFoundError(detail=operator_code)
    first, last = month_of(month)
    start, end = month_bounds(month)
    contract = await uow.settlement.contract(operator_code, last)
    payments = await uow.payments.paid_between(operator.sub_mchid, start, end)
    recovered = [
        fen
        for paid, left, fen in await uow.settlement.street_stay_payments(operator_code, start, end)
        if paid.astimezone(SHANGHAI).date() > left.astimezone(SHANGHAI).date()
    ]
    clearing = Account(AccountKind.WECHAT_CLEARING, operator.sub_mchid).key
    berths = await uow.settlement.berths_of(operator_code)
    return Statement(
        operator_code=operator_code,
        operator_name=operator.name,
        sub_mchid=operator.sub_mchid,
        month=first,
        basis=None if contract is None else contract.basis,
        payments_fen=sum(p.amount_fen for p in payments),
        payments_count=len(payments),
        refunds_fen=await uow.settlement.refunds_succeeded(operator.sub_mchid, start, end),
        shares_sent=await uow.settlement.sent_between(operator_code, start, end),
        shares_returned=await uow.settlement.returned_between(operator_code, start, end),
        concession_due_fen=0 if contract is None else concession_due(contract, berths),
        arrears_recovered_fen=sum(recovered),
        written_off_fen=await uow.write_offs.approved_fen(operator_code, start, end),
        ledger_clearing_fen=await uow.settlement.movement(clearing, start, end),
    )


async def run_monthly_statements(uows: Uows, period_date: date) -> list[Statement]:
    """Every operator's statement of the month of `period_date` (read only: idempotent)."""
    async with uows() as uow:
        return [
            await monthly_statement(uow, code, period_date)
            for code in await uow.settlement.operator_codes()
        ]
