"""What the bot says: intents recognised in a driver's text, answered in Chinese."""

from __future__ import annotations

from core.money import format_yuan
from core.plates import InvalidPlateError, parse_plate
from core.services.stays import payable_stays
from core.store.unit_of_work import UnitOfWork

HELP = "您好！发送车牌号（如 浙B12345）即可查询待缴停车费。"


async def reply_to_text(uow: UnitOfWork, text: str) -> str:
    """The answer to one text message."""
    try:
        plate = parse_plate(text.strip())
    except InvalidPlateError:
        return HELP
    stays = await payable_stays(uow, plate)
    if not stays:
        return f"{plate.number} 暂无待缴停车费。"
    total = sum(s.due_fen for s in stays)
    # Anyone can send a plate: the count and the amount only, details need a verified binding.
    return (
        f"{plate.number} 有 {len(stays)} 笔待缴停车费，合计 {format_yuan(total)} 元。\n"
        "请在小程序中缴纳；绑定并认证车牌后可查看停车详情。"
    )
