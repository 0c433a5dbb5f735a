"""What the bot says: intents recognised in a driver's text, answered in Chinese."""

from __future__ import annotations

from core.billing import DayCalendar
from core.clock import Clock
from core.money import format_yuan
from core.plates import InvalidPlateError, parse_plate
from core.services.stays import list_plate_stays
from core.store.unit_of_work import UnitOfWork

HELP = "您好！发送车牌号（如 浙B12345）即可查询当前停车和待缴费用。"


async def reply_to_text(uow: UnitOfWork, clock: Clock, calendar: DayCalendar, text: str) -> str:
    """The answer to one text message."""
    try:
        plate = parse_plate(text.strip())
    except InvalidPlateError:
        return HELP
    stays = await list_plate_stays(uow, clock, calendar, plate)
    if not stays:
        return f"{plate.number} 暂无停车记录。"
    lines = [f"{plate.number} 最近的停车："]
    for stay in stays[:3]:
        fee = "计费中" if stay.fee_fen is None else f"{format_yuan(stay.fee_fen)} 元"
        state = {"open": "停车中", "closed": "已离场", "review": "待核实"}.get(stay.status, "")
        lines.append(f"· {stay.place} {state} 费用 {fee}")
    return "\n".join(lines)
