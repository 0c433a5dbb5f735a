"""The conversation: a text's intent, read with what the bot asked last, answered."""

from __future__ import annotations

from dataclasses import replace

from bot import accounts, places
from bot.intents import Intent, Recognition
from bot.turn import Turn
from core.chat import HandoffReason
from core.services.chat import request_handoff
from core.services.support import queued
from core.support import estimated_wait

HELP = (
    "您好，我是停车助手，可以帮您：\n"
    "1. 找车位：发送位置或“天一广场附近停车”\n"
    "2. 查在停：“我停了多久”\n"
    "3. 查欠费/补缴：“欠了多少”或直接发车牌\n"
    "4. 绑定车牌：“绑定 浙B12345”\n"
    "5. 收费标准：“一类区怎么收费”\n"
    "6. 月卡：“包月多少钱”\n"
    "7. 发票：“开发票”\n"
    "8. 人工客服：“人工”"
)
FIRST_MISS = (
    "抱歉，我没太明白。您可以问：找车位、查欠费、绑定车牌、收费标准、月卡、发票；"
    "也可以回复“人工”联系客服。"
)
SECOND_MISS = "还是没能理解您的问题，抱歉。需要转人工客服吗？回复“是”即可，客服会尽快联系您。"
TO_WECHAT = "正在为您转接人工客服，请稍候。"
PLATE_INTENTS = {Intent.BIND_PLATE.value, Intent.ARREARS.value}


def understood(turn: Turn, message: str) -> Recognition:
    """The recognition of a text, corrected by what the bot asked before."""
    recognition = turn.setup.recogniser.recognise(message)
    awaiting = turn.state.awaiting
    loose = recognition.intent in (Intent.PLATE_ONLY, Intent.FALLBACK)
    if awaiting in PLATE_INTENTS and recognition.plates and loose:
        return _as(recognition, Intent(awaiting))
    if awaiting == Intent.FIND_PARKING.value and loose and recognition.place_query:
        return _as(recognition, Intent.FIND_PARKING)
    if awaiting == "human_offer" and recognition.text in turn.setup.book.yes_words:
        return _as(recognition, Intent.HUMAN)
    return recognition


def _as(recognition: Recognition, intent: Intent) -> Recognition:
    return replace(recognition, intent=intent)


async def answer_text(turn: Turn, message: str) -> str:
    """The reply to one text message; turn.state holds what to remember."""
    offered = turn.state.awaiting == "human_offer"
    recognition = understood(turn, message)
    if offered and recognition.intent is Intent.HUMAN:
        turn.notes["missed"] = "yes"
    turn.state = turn.state.with_changes(awaiting=None)
    if recognition.intent is not Intent.FALLBACK:
        turn.state = turn.state.with_changes(misses=0)
    earlier = turn.state.recent
    text = await answer(turn, recognition, message, earlier)
    turn.state = turn.state.remembering(message)
    return text


async def answer(
    turn: Turn, recognition: Recognition, message: str = "", earlier: tuple[str, ...] = ()
) -> str:
    """Answer a recognised intent (also what a menu click or a scan asks)."""
    intent = recognition.intent
    if intent is Intent.FIND_PARKING:
        found = await places.named_place(turn, recognition, last_by_default=True)
        if found is None and recognition.place_query and not recognition.here:
            turn.state = turn.state.with_changes(awaiting="find_parking")
            return f"没有找到“{recognition.place_query[:20]}”。{places.ASK_PLACE}"
        return await places.find_parking(turn, found)
    if intent is Intent.TARIFF:
        return await places.tariff(turn, recognition, await places.named_place(turn, recognition))
    if intent is Intent.PASS:
        return await places.passes(turn, await places.named_place(turn, recognition))
    if intent is Intent.CURRENT_STAY:
        return await accounts.current_stay(turn)
    if intent in (Intent.ARREARS, Intent.PLATE_ONLY):
        return await accounts.arrears(turn, recognition.plates)
    if intent is Intent.BIND_PLATE:
        return await accounts.bind(turn, recognition.plates)
    if intent is Intent.INVOICE:
        return await accounts.invoice(turn)
    if intent is Intent.HUMAN:
        return await human(turn, recognition, message, earlier)
    if intent is Intent.GREETING:
        return HELP
    return fallback(turn)


async def human(
    turn: Turn, recognition: Recognition, message: str, earlier: tuple[str, ...] = ()
) -> str:
    """Record the request for a person (the support console takes it) and say so."""
    if turn.notes.get("missed"):
        reason = HandoffReason.MISSED
    elif any(word in recognition.text for word in turn.setup.book.complaint_words):
        reason = HandoffReason.COMPLAINT
    else:
        reason = HandoffReason.ASKED
    turn.state = turn.state.with_changes(misses=0)
    ports = turn.setup.support()
    if ports is not None and turn.identity.appid in ports.wechat_customer_service:
        turn.notes["transfer"] = "wechat"  # the webhook answers TransferCustomerServiceReply
        return TO_WECHAT
    row, created = await request_handoff(
        turn.uow, turn.clock, turn.identity, reason, message, earlier
    )
    position = await turn.uow.support.position(row)
    wait = estimated_wait(position, ports.minutes_per_chat if ports else 5)
    if not created:
        return (
            f"您的人工服务请求（编号{row.id}）已在排队，前面还有{max(position - 1, 0)}位，"
            "客服会尽快回复，请直接留言说明问题。"
        )
    if ports is not None:
        await queued(ports, row)
    sorry = "非常抱歉给您带来不便。" if reason is HandoffReason.COMPLAINT else ""
    return (
        f"{sorry}已为您转接人工客服（编号{row.id}），您前面还有{position - 1}位，"
        f"预计约{wait}分钟内回复（工作时间9:00-21:00）。"
        "请直接留言描述问题，涉及扣费请附车牌号和时间。"
    )


def fallback(turn: Turn) -> str:
    """A short useful answer; the second miss in a row offers a person."""
    misses = turn.state.misses + 1
    if misses >= 2:
        turn.state = turn.state.with_changes(misses=misses, awaiting="human_offer")
        return SECOND_MISS
    turn.state = turn.state.with_changes(misses=misses)
    return FIRST_MISS
