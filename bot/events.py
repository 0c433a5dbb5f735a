"""Official Account events: follow, unfollow, QR scenes, menu clicks, location reports."""

from __future__ import annotations

from typing import Any

from bot import conversation, places
from bot.intents import Intent, Recognition
from bot.state import LastPlace
from bot.texts import duration, yuan
from bot.turn import Turn
from core.errors import DomainError
from core.plates import Plate
from core.scan_codes import ScanCodeKind, ScanTarget
from core.services.chat import follow
from core.services.scan_codes import resolve_code

WELCOME = "欢迎关注城市停车！先离后缴、无感支付，一次扫码、全城通停。"
# Events after which WeChat opens the 48-hour customer-service window (VIEW and LOCATION do not).
OPENS_WINDOW = {"subscribe", "subscribe_scan", "scan", "click"}


def opens_window(message: Any) -> bool:
    """Whether this message lets the account write to the user for 48 hours."""
    return message.type != "event" or message.event in OPENS_WINDOW


async def answer_event(turn: Turn, message: Any) -> str | None:
    """The reply to an event, or None for 'success' (nothing to say)."""
    event = message.event
    if event in ("subscribe", "subscribe_scan"):
        await follow(turn.uow, turn.clock, turn.identity, True)
        scene = await scene_answer(turn, message.scene_id) if event == "subscribe_scan" else None
        return f"{WELCOME}\n{scene}" if scene else f"{WELCOME}\n{conversation.HELP}"
    if event == "unsubscribe":
        await follow(turn.uow, turn.clock, turn.identity, False)
        return None
    if event == "scan":
        return await scene_answer(turn, message.scene_id) or conversation.HELP
    if event == "click":
        return await click(turn, str(message.key or ""))
    if event == "location":
        turn.state = turn.state.with_changes(
            place=LastPlace("您的位置", float(message.latitude), float(message.longitude))
        )
        return None
    return None  # view and the rest: nothing to answer


async def click(turn: Turn, key: str) -> str:
    """A menu key (bot_menu.toml) names an intent."""
    try:
        intent = Intent(key.lower())
    except ValueError:
        return conversation.HELP
    turn.state = turn.state.with_changes(awaiting=None)
    return await conversation.answer(turn, Recognition(intent=intent, score=1.0, here=True))


async def location_message(turn: Turn, lat: float, lng: float, label: str | None) -> str:
    """A location sent in chat: spaces near it, and it becomes "这里"."""
    place = LastPlace(label or "您的位置", lat, lng)
    turn.state = turn.state.with_changes(misses=0)
    return await places.find_parking(turn, place)


async def scene_answer(turn: Turn, scene: str | None) -> str | None:
    """A berth's or lane's QR code ("berth:HS1-001", "lane:LOT-TIANYI/X1"): price and stay."""
    kind, _, value = (scene or "").partition(":")
    if kind == "berth" and value:
        return await _berth(turn, value)
    if kind == "lane" and "/" in value:
        lot, lane = value.split("/", 1)
        return await _lane(turn, lot, lane)
    return None


async def _berth(turn: Turn, code: str) -> str | None:
    berth = await turn.uow.city.berth_by_code(code)
    if berth is None or berth.zone_id is None:
        return None
    zone = await turn.uow.city.zone(berth.zone_id)
    place = LastPlace(
        f"{zone.name}·{berth.street or code}",
        float(berth.lat or 0),
        float(berth.lng or 0),
        zone=zone.code,
        tariff_code=zone.tariff_code,
    )
    turn.state = turn.state.with_changes(place=place)
    price = await places.summary_of(turn, zone.tariff_code) or "按路内收费标准"
    try:
        result = await resolve_code(
            turn.uow, turn.clock, turn.calendar, ScanTarget(ScanCodeKind.BERTH, berth=code)
        )
    except DomainError:
        result = None
    lines = [f"泊位 {code}，{place.name}。收费：{price}"]
    if result is None:
        return turn.setup.writer.reply(lines)
    for stay in result.stays:
        fee = f"，目前{yuan(stay.fee_fen)}" if stay.fee_fen is not None else ""
        since = duration(turn.clock.now() - stay.entered_at)
        lines.append(f"正在计费：{Plate(stay.plate).masked()} 已停{since}{fee}。{result.message}")
    if not result.stays:
        lines.append(result.message)
    return turn.setup.writer.reply(lines, turn.setup.page("scan", "在小程序中缴费"))


async def _lane(turn: Turn, lot_code: str, lane_code: str) -> str | None:
    lot = await turn.uow.city.lot_by_code(lot_code)
    if lot is None:
        return None
    place = LastPlace(
        lot.name, float(lot.lat), float(lot.lng), lot=lot.code, tariff_code=lot.tariff_code
    )
    turn.state = turn.state.with_changes(place=place)
    price = await places.summary_of(turn, lot.tariff_code) or "按停车场收费标准"
    lines = [f"{lot.name}收费：{price}"]
    found = await turn.uow.lots.lane(lot_code, lane_code)
    if found is not None and found[0].direction == "exit":
        result = await resolve_code(
            turn.uow,
            turn.clock,
            turn.calendar,
            ScanTarget(ScanCodeKind.EXIT_LANE, lot=lot_code, lane=lane_code),
        )
        for stay in result.stays:
            fee = yuan(stay.fee_fen) if stay.fee_fen is not None else "待计算"
            lines.append(f"{Plate(stay.plate).masked()} 待缴{fee}")
        lines.append(result.message)
    return turn.setup.writer.reply(lines, turn.setup.page("scan", "在小程序中缴费"))
