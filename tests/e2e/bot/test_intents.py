"""Every intent in ten phrasings or more, posted as WeChat does; answers from the demo city."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from bot.conversation import FIRST_MISS, HELP, SECOND_MISS
from core.billing import load_tariff_file
from core.clock import FrozenClock
from core.store.chat import ChatHandoffRow
from core.store.people import VehicleBindingRow
from core.store.unit_of_work import UnitOfWork
from sandbox.demo_city import TARIFF_DIR
from sandbox.demo_lots import DEMO_PASS_PRODUCTS
from tests.bot_chat import database_of, follower, mini_program_login, sensor

Client = TestClient[Any, Any]


def description(tariff: str) -> str:
    """The tariff file's own Chinese summary."""
    return str(load_tariff_file(TARIFF_DIR / f"{tariff}.toml").to_dict()["description"])


async def verify_all(client: Client) -> None:
    """Mark every binding verified (as a 行驶证 check would)."""
    async with UnitOfWork(database_of(client).sessions) as uow:
        await uow.session.execute(
            update(VehicleBindingRow).values(
                verified_at=VehicleBindingRow.created_at, verified_by="licence"
            )
        )
        await uow.commit()


FIND = {
    "火车站附近能停车吗": ("宁波火车站", "天一广场地下停车场"),
    "去天一广场停哪": ("天一广场", "天一广场地下停车场"),
    "天一广场附近有车位吗？": ("天一广场", "天一广场核心区·中山东路"),
    "鼓楼哪里可以停车": ("鼓楼", "鼓楼片区·公园路"),
    "老外滩附近停车位": ("老外滩", "老外滩外围·人民路"),
    "第一医院能停车不": ("宁波市第一医院", "宁波市第一医院停车场"),
    "城隍庙附近哪有停车场": ("城隍庙", "天一广场地下停车场"),
    "天一广厂附近的停车位": ("天一广场", "天一广场地下停车场"),  # typo, same sound
    "中山东路 有空位吗": ("中山东路", "天一广场核心区·中山东路"),
    "月湖附近好停车吗": ("月湖公园", "鼓楼片区·公园路"),
    "ｗｏ想去一院，哪里停车": ("宁波市第一医院", "宁波市第一医院停车场"),  # full-width
    "公园路能停吗": ("公园路", "鼓楼片区·公园路"),
}


async def test_find_parking_by_place_name(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    for phrase, (where, expected) in FIND.items():
        answer = await alice.say(phrase)
        assert where in answer and expected in answer, (phrase, answer)
        assert "空位" in answer and 'data-miniprogram-path="pages/nearby/index"' in answer


async def test_find_parking_counts_free_spaces_now(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    await bot.post(
        "/devices/sensors/events", json=sensor("f-1", "HS1-003", "occupied", "浙B20001", "09:00")
    )
    await bot.post(
        "/devices/sensors/events", json=sensor("f-2", "HS1-004", "occupied", "浙B20002", "09:00")
    )
    alice = await follower(bot, oa_sandbox, clock, "alice")
    answer = await alice.say("天一广场附近哪里有车位")
    assert "天一广场核心区·中山东路（路内）" in answer and "空位18/20" in answer
    assert "空位1200/1200" in answer  # the mall garage: no open stays


async def test_find_parking_without_a_place_asks_and_a_location_answers(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    for phrase in ("附近哪里有停车位", "哪里可以停车", "找车位", "周边有空位吗", "停车位"):
        assert "请发送您的位置" in await alice.say(phrase)
    near = await alice.send_location(29.87654, 121.54621, "宁波市第一医院")
    assert near.startswith("宁波市第一医院附近") and "宁波市第一医院停车场（停车场）0米" in near
    far = await alice.say("南塘老街附近停车")
    assert "附近暂无我们管理的停车场" in far


async def _stay_now(client: Client, clock: FrozenClock, plate: str, berth: str) -> None:
    reply = await client.post(
        "/devices/sensors/events", json=sensor(f"s-{plate}", berth, "occupied", plate, "09:00")
    )
    assert reply.status in (200, 202), await reply.text()
    clock.advance(timedelta(hours=2, minutes=10))


CURRENT = [
    "我停了多久",
    "现在多少钱",
    "停了多长时间了",
    "我的车停了几个小时",
    "现在要交多少",
    "目前费用多少",
    "停车时长",
    "我的车在哪",
    "到现在多少钱了",
    "停了多久啊？",
    "现在是多少钱",
]


async def test_current_stay_shows_the_fee_now_from_the_billing_engine(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    assert "已绑定 浙B55555" in await alice.say("绑定 浙B55555")
    unverified = await alice.say("我停了多久")
    assert "浙B55555 尚未认证" in unverified and "HS2" not in unverified
    await verify_all(bot)
    await _stay_now(bot, clock, "浙B55555", "HS2-004")
    # The mini-program's view of the same driver (one unionid) prices the same stay.
    headers = await mini_program_login(bot, oa_sandbox, "alice")
    mine = await (await bot.get("/mp/me/stays/current", headers=headers)).json()
    fee = mine["stays"][0]["fee_fen"]
    assert fee > 0
    for phrase in CURRENT:
        answer = await alice.say(phrase)
        assert "浙B55555 停在HS2-004" in answer, (phrase, answer)
        assert "11月25日 09:00入场，已停2小时10分钟" in answer
        assert f"目前费用{fee // 100}.{fee % 100:02d}元" in answer


ARREARS = [
    "欠了多少",
    "怎么补缴",
    "我还欠多少",
    "有没有欠费",
    "查欠费",
    "补交停车费",
    "待缴多少",
    "还要交多少钱",
    "欠费多少？",
    "怎么交停车费",
    "俺没交的停车费",
]


async def test_arrears_totals_for_any_binding_details_only_when_verified(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    await bot.post(
        "/devices/sensors/events", json=sensor("a-1", "HS1-005", "occupied", "浙B66601", "09:00")
    )
    clock.advance(timedelta(hours=3))
    left = await bot.post(
        "/devices/sensors/events", json=sensor("a-2", "HS1-005", "vacated", "浙B66601", "12:00")
    )
    fee = (await left.json())["fee_fen"]
    assert fee > 0
    amount = f"{fee // 100}.{fee % 100:02d}元"
    typist = await follower(bot, oa_sandbox, clock, "typist")
    await typist.say("绑定浙B66601")
    for phrase in ARREARS[:5]:
        answer = await typist.say(phrase)
        assert f"浙B66601 有 1 笔待缴停车费，合计{amount}" in answer, (phrase, answer)
        assert (
            "HS1-005" not in answer
            and 'data-miniprogram-path="pages/arrears/index?plate=' in answer
        )
    await verify_all(bot)
    for phrase in ARREARS[5:]:
        answer = await typist.say(phrase)
        assert f"浙B66601 待缴 1 笔，合计{amount}" in answer, (phrase, answer)
        assert "HS1-005 11月25日 12:00离场" in answer
    # A stranger typing the plate learns the amount, not the place.
    stranger = await follower(bot, oa_sandbox, clock, "stranger")
    told = await stranger.say("浙B66601欠多少")
    assert f"合计{amount}" in told and "HS1-005" not in told


BIND = {
    "绑定 浙b 12345": "浙B12345",
    "绑定浙Ｂ１２３４６": "浙B12346",
    "帮我绑一下 浙B 12347": "浙B12347",
    "添加车牌浙b12348": "浙B12348",
    "绑车 浙B1234９": "浙B12349",
    "车牌绑定：沪AD12345": "沪AD12345",
    "加个车牌 苏E 1235O": "苏E12350",  # O typed for 0
    "登记车牌 粤B12351F": "粤B12351F",
    "关联车牌京a12352": "京A12352",
    "绑定 浙 B·12353": "浙B12353",
    "帮我邦定浙B12354": "浙B12354",  # typo, same sound
}


async def test_bind_plate_makes_unverified_bindings_the_mini_program_sees(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    for phrase, plate in BIND.items():
        answer = await alice.say(phrase)
        assert f"已绑定 {plate}（未认证）" in answer, (phrase, answer)
        assert "上传行驶证" in answer
    headers = await mini_program_login(bot, oa_sandbox, "alice")
    listed = await (await bot.get("/mp/me/plates", headers=headers)).json()
    plates = {v["plate"]: v["verified"] for v in listed["plates"]}
    assert plates == dict.fromkeys(BIND.values(), False)


async def test_plates_bound_in_the_mini_program_are_the_bots(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    headers = await mini_program_login(bot, oa_sandbox, "bob")
    made = await bot.post("/mp/me/plates", json={"plate": "浙B77001"}, headers=headers)
    assert made.status in (200, 201), await made.text()
    bob = await follower(bot, oa_sandbox, clock, "bob")
    assert "浙B77001 暂无待缴停车费" in await bob.say("欠了多少")


INVOICE = [
    "开票",
    "要发票",
    "开发票",
    "发票怎么开",
    "我要报销",
    "电子发票",
    "能开收据吗",
    "开个票",
    "发漂怎么开",
    "打印发票",
    "停车费的票据",
]


async def test_invoice_points_to_the_invoice_page(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    for phrase in INVOICE:
        answer = await alice.say(phrase)
        assert "我的发票" in answer and "财政电子票据" in answer, (phrase, answer)
        assert "pages/invoices/index" in answer


TARIFF = {
    "一类区怎么收费": "onstreet-class1",
    "二类区怎么收费": "onstreet-class2",
    "三类路段收费标准": "onstreet-class3",
    "1类区一小时多少钱": "onstreet-class1",
    "天一广场地下停车场多少钱": "lot-standard",
    "第一医院停车场怎么收费": "lot-standard",
    "中山东路停车多少钱": "onstreet-class1",
    "公园路 收费标准": "onstreet-class2",
    "人民路停车贵不贵": "onstreet-class3",
    "二类区咋收费": "onstreet-class2",
    "ＨＳ１怎么计费": "onstreet-class1",
}


async def test_tariff_is_the_tariffs_own_summary(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    for phrase, tariff in TARIFF.items():
        answer = await alice.say(phrase)
        assert description(tariff) in answer, (phrase, answer)
    # "这个停车场" is the place just named.
    await alice.say("第一医院附近停车")
    here = await alice.say("这个停车场多少钱")
    assert description("lot-standard") in here and "宁波市第一医院" in here
    general = await alice.say("收费标准")
    assert all(description(f"onstreet-class{n}") in general for n in (1, 2, 3))


PASS = [
    "包月多少钱",
    "月卡续费",
    "月卡怎么办",
    "办月卡",
    "月租价格",
    "有没有包月",
    "包越多少钱",
    "我想买个月卡",
    "月票怎么买",
    "停车卡怎么办理",
    "长租车位多少钱",
]


async def test_pass_lists_products_and_the_buy_link(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    for phrase in PASS:
        answer = await alice.say(phrase)
        for lot, _, name, _, fen, _, _ in DEMO_PASS_PRODUCTS:
            assert f"{name}{fen // 100}元/月" in answer, (phrase, lot, answer)
        assert 'data-miniprogram-path="pages/passes/index"' in answer
    hospital = await alice.say("第一医院停车场月卡多少钱")
    assert "小型车月卡200元/月" in hospital and "300元/月" not in hospital
    assert "lot=LOT-HOSP" in hospital


HUMAN = {
    "人工": "asked",
    "客服": "asked",
    "转人工": "asked",
    "我要投诉": "complaint",
    "你们乱收费": "complaint",
    "多扣钱了": "complaint",
    "找客服": "asked",
    "扣了两次钱": "complaint",
    "联系客服": "asked",
    "要求退款": "complaint",
    "真人 在吗": "asked",
}


async def test_human_records_the_request(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    for n, (phrase, reason) in enumerate(HUMAN.items()):
        driver = await follower(bot, oa_sandbox, clock, f"caller-{n}")
        answer = await driver.say(phrase)
        assert "已为您转接人工客服（编号" in answer, (phrase, answer)
        async with UnitOfWork(database_of(bot).sessions) as uow:
            row = await uow.session.scalar(
                select(ChatHandoffRow).where(ChatHandoffRow.openid == driver.openid)
            )
        assert row is not None and (row.reason, row.status, row.message) == (reason, "open", phrase)
        assert row.driver_id is not None
        again = await driver.say("人工")
        assert f"编号{row.id}）已在排队" in again


GREETING = [
    "你好",
    "您好！",
    "在吗",
    "在不在？",
    "hi",
    "Hello",
    "？",
    "?",
    "帮助",
    "菜单",
    "你能做什么",
    "泥嚎",
]


async def test_greeting_is_the_help_menu(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    for phrase in GREETING:
        assert await alice.say(phrase) == HELP, phrase


FALLBACK = [
    "今天天气不错",
    "哈哈哈",
    "你吃饭了吗",
    "asdfgh",
    "讲个笑话",
    "12345",
    "明天会下雨吗",
    "这是什么东西",
    "随便问问",
    "我想买手机",
]


async def test_fallback_then_a_second_miss_offers_a_person(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    for n, phrase in enumerate(FALLBACK):
        driver = await follower(bot, oa_sandbox, clock, f"lost-{n}")
        assert await driver.say(phrase) == FIRST_MISS, phrase
    lost = await follower(bot, oa_sandbox, clock, "lost-0")
    assert await lost.say("哈哈哈") == SECOND_MISS
    taken = await lost.say("是的")
    assert "已为您转接人工客服" in taken
    async with UnitOfWork(database_of(bot).sessions) as uow:
        row = await uow.session.scalar(
            select(ChatHandoffRow).where(ChatHandoffRow.openid == lost.openid)
        )
    assert row is not None and row.reason == "missed"
    # Understood again: the count starts over.
    assert await lost.say("你好") == HELP
    assert await lost.say("哈哈") == FIRST_MISS


@pytest.mark.parametrize("plate", ["浙B55555", "浙b 55555", "浙Ｂ５５５５５"])
async def test_a_bare_plate_is_what_it_owes(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock, plate: str
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    assert "浙B55555 暂无待缴停车费" in await alice.say(plate)
