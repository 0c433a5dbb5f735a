"""Answers about the driver's own plates: stays now, arrears, binding, invoices."""

from __future__ import annotations

from bot.texts import duration, local_time, yuan
from bot.turn import Turn
from core.errors import DomainError
from core.plates import Plate
from core.services import driver_stays, invoices
from core.services.stays import payable_stays
from core.services.vehicles import BoundPlate, bind_plate, list_plates

ASK_PLATE = "请问是哪个车牌？直接发送车牌号即可，例如 浙B12345。"
NOT_LINKED = "暂时无法识别您的微信身份，请稍后再试，或在小程序中操作。"
INVOICE_HELP = (
    "在小程序“我的发票”中选择缴费记录即可开具电子发票：停车场开具数电票，"
    "路内停车费开具财政电子票据，同一收费单位的多笔缴费可合并开票。"
)
_KIND_ZH = {"digital_vat": "数电票", "prepaid": "预付卡发票", "fiscal_receipt": "财政电子票据"}


async def _plates(turn: Turn) -> list[BoundPlate]:
    return await list_plates(turn.uow, turn.driver_id) if turn.driver_id is not None else []


async def current_stay(turn: Turn) -> str:
    """Each open stay of the driver's verified plates: where, since when, the fee now."""
    setup, plates = turn.setup, await _plates(turn)
    if not plates:
        turn.state = turn.state.with_changes(awaiting="bind_plate")
        return setup.writer.reply(["您还没有绑定车牌。" + ASK_PLATE.replace("请问是", "绑定")])
    assert turn.driver_id is not None
    stays = await driver_stays.current_stays(turn.uow, turn.clock, turn.calendar, turn.driver_id)
    lines: list[str] = []
    for stay in stays:
        view = stay.view
        fee = view.fee_fen
        if fee is None:
            fee = await driver_stays.lot_fee_so_far(turn.uow, turn.clock, turn.calendar, view.ref)
        since = duration(turn.clock.now() - view.entered_at)
        priced = f"，目前费用{yuan(fee)}" if fee is not None else "，出场时计费"
        entered = local_time(view.entered_at)
        lines.append(f"· {view.plate} 停在{view.place}，{entered}入场，已停{since}{priced}")
    unverified = [p.plate for p in plates if not p.verified]
    if not lines:
        lines.append("您认证的车牌目前没有在停记录。" if len(unverified) < len(plates) else "")
    if unverified:
        lines.append(f"{'、'.join(unverified)} 尚未认证，认证后可查看在停信息。")
    return setup.writer.reply([line for line in lines if line], setup.page("stays", "查看停车详情"))


async def arrears(turn: Turn, plates: tuple[Plate, ...]) -> str:
    """What the driver's plates (or the plate typed) owe; details only on a verified binding."""
    setup = turn.setup
    bound = {p.plate: p for p in await _plates(turn)}
    asked = [p.number for p in plates] or list(bound)
    if not asked:
        turn.state = turn.state.with_changes(awaiting="arrears")
        return ASK_PLATE
    lines: list[str] = []
    total = 0
    for number in asked:
        binding = bound.get(number)
        if binding is not None and binding.verified and turn.driver_id is not None:
            stays = await driver_stays.unpaid_stays(turn.uow, turn.driver_id, number)
            due = sum(s.due_fen for s in stays)
            lines.append(f"{number} 待缴 {len(stays)} 笔，合计{yuan(due)}" if stays else "")
            lines += [
                f"  · {s.place} {local_time(s.exited_at or s.entered_at)}离场 {yuan(s.due_fen)}"
                for s in stays
            ]
        else:
            # Anyone can type a plate: the count and the amount, never where or when.
            dues = await payable_stays(turn.uow, Plate(number))
            due = sum(d.due_fen for d in dues)
            lines.append(f"{number} 有 {len(dues)} 笔待缴停车费，合计{yuan(due)}" if dues else "")
            if dues:
                lines.append("  绑定并认证车牌后可查看停车详情。")
        total += due
        if not due:
            lines.append(f"{number} 暂无待缴停车费。")
    lines = [line for line in lines if line]
    if not total:
        return setup.writer.reply(lines)
    if len(asked) > 1:
        lines.append(f"共计{yuan(total)}。")
    return setup.writer.reply(lines, setup.page("arrears", "去补缴", plate=asked[0]))


async def bind(turn: Turn, plates: tuple[Plate, ...]) -> str:
    """Bind the plate typed (unverified) and say how to verify it."""
    setup = turn.setup
    if not plates:
        turn.state = turn.state.with_changes(awaiting="bind_plate")
        return ASK_PLATE
    if turn.driver_id is None:
        return NOT_LINKED
    lines: list[str] = []
    for plate in plates:
        try:
            bound = await bind_plate(
                turn.uow,
                turn.clock,
                turn.driver_id,
                plate,
                plate.default_colour(),
                setup.plate_limit,
            )
        except DomainError as exc:
            lines.append(f"{plate.number}：{exc.message_zh}")
            continue
        state = "已认证" if bound.verified else "未认证"
        lines.append(f"已绑定 {bound.plate}（{state}）。")
    if any("未认证" in line for line in lines):
        lines.append(
            "认证方式：在小程序上传行驶证；或在泊位、出口扫码后缴纳本次停车费（仅可查看所缴的停车记录）。认证前可缴费，不能查看停车记录。"
        )
    return setup.writer.reply(lines, setup.page("verify", "去认证", plate=plates[0].number))


async def invoice(turn: Turn) -> str:
    """How to get an invoice, the driver's invoiceable payments, and the invoice page."""
    setup = turn.setup
    lines = [INVOICE_HELP]
    if turn.driver_id is not None:
        found = (await invoices.list_invoiceable(turn.uow, turn.driver_id)).candidates[:5]
        if found:
            lines.append("可开票的缴费：")
            for c in found:
                at = local_time(c.payment.paid_at or c.payment.created_at)
                kind = _KIND_ZH[c.kind.value]
                lines.append(f"· {c.payment.plate} {at} {yuan(c.amount_fen)}（{kind}）")
        else:
            lines.append("您暂时没有可开票的缴费。")
    return setup.writer.reply(lines, setup.page("invoice", "去开发票"))
