"""Demo passes, pass products, residents' spaces and merchants of the demo city's gated lots."""

from __future__ import annotations

from datetime import datetime

from core.billing import SHANGHAI
from core.clock import Clock
from core.store.city import LotRow
from core.store.lots import LotPolicyRow, LotRightPlateRow, LotRightRow, MerchantRow
from core.store.pass_sales import PassProductRow
from core.store.unit_of_work import UnitOfWork

VALID_FROM = datetime(2026, 1, 1, tzinfo=SHANGHAI)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=SHANGHAI)

# (ref, lot, kind, holder, plates, spaces, windows, balance in fen)
DEMO_RIGHTS = (
    ("MP-TIANYI-001", "LOT-TIANYI", "monthly", "王先生", ("浙B88888",), 1, None, 0),
    ("MP-TIANYI-002", "LOT-TIANYI", "monthly", "李女士", ("浙B5N111", "浙B5N222"), 1, None, 0),
    ("MP-TIANYI-003", "LOT-TIANYI", "monthly", "夜间月租", ("浙B3N333",), 1, "20:00-08:00", 0),
    ("OS-TIANYI-B2-018", "LOT-TIANYI", "owned_space", "业主陈先生", ("浙B66666",), 1, None, 0),
    ("RS-TIANYI-B2-101", "LOT-TIANYI", "rented_space", "租户赵女士", ("浙B6R101",), 1, None, 0),
    ("SV-TIANYI-001", "LOT-TIANYI", "stored_value", "储值卡", ("浙B77777",), 1, None, 10000),
    ("SP-HOSP-001", "LOT-HOSP", "special", "院内公务车", ("浙B11111",), 1, None, 0),
)
# (lot, code, name, vehicle class, fen per month, sold online, most months per order)
DEMO_PASS_PRODUCTS = (
    ("LOT-TIANYI", "M-SMALL", "小型车月卡", "small", 30000, True, 12),
    ("LOT-TIANYI", "M-NEV", "新能源车月卡", "new_energy", 25000, True, 12),
    ("LOT-TIANYI", "M-LARGE", "大型车月卡（管理处办理）", "large", 60000, False, 12),
    ("LOT-HOSP", "M-SMALL", "小型车月卡", "small", 20000, True, 6),
)
# Residents' spaces sold in the mall's garage (业主车位): owned-space rights fit within these.
DEMO_SOLD_SPACES = {"LOT-TIANYI": 40}
DEMO_MERCHANTS = (
    ("M-TIANYI-CAFE", "LOT-TIANYI", "天一咖啡"),
    ("M-HOSP-CLINIC", "LOT-HOSP", "第一医院门诊部"),
)


async def load_demo_lots(uow: UnitOfWork, clock: Clock, lots: list[LotRow]) -> None:
    """Add the demo rights, pass products and merchants, without committing."""
    by_code = {lot.code: lot for lot in lots}
    for ref, lot_code, kind, holder, plates, spaces, windows, balance in DEMO_RIGHTS:
        right = LotRightRow(
            ref=ref,
            lot_id=by_code[lot_code].id,
            kind=kind,
            holder=holder,
            spaces=spaces,
            valid_from=VALID_FROM,
            valid_until=VALID_UNTIL,
            windows=windows,
            balance_fen=balance,
            status="active",
            created_at=clock.now(),
        )
        uow.lots.add(right)
        await uow.lots.flush()
        for plate in plates:
            uow.lots.add(LotRightPlateRow(right_id=right.id, plate=plate))
    for lot_code, code, name, vehicle_class, month_fen, online, months in DEMO_PASS_PRODUCTS:
        uow.lots.add(
            PassProductRow(
                lot_id=by_code[lot_code].id,
                code=code,
                name=name,
                vehicle_class=vehicle_class,
                month_fen=month_fen,
                online=online,
                max_months=months,
                active=True,
            )
        )
    for lot_code, sold in DEMO_SOLD_SPACES.items():
        uow.lots.add(LotPolicyRow(lot_id=by_code[lot_code].id, sold_spaces=sold))
    for code, lot_code, name in DEMO_MERCHANTS:
        uow.lots.add(MerchantRow(code=code, name=name, lot_id=by_code[lot_code].id))
