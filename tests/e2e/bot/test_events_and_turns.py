"""Events (follow, QR scenes, menu, location) and conversations over several messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.conversation import HELP
from bot.events import WELCOME
from core.billing import load_tariff_file
from core.clock import FrozenClock
from core.store.unit_of_work import UnitOfWork
from sandbox.demo_city import TARIFF_DIR
from tests.bot_chat import OA_APPID, database_of, follower, mini_program_login, sensor
from tests.wechat_sandbox import APPID

Client = TestClient[Any, Any]


def description(tariff: str) -> str:
    return str(load_tariff_file(TARIFF_DIR / f"{tariff}.toml").to_dict()["description"])


async def _chat_user(client: Client, openid: str) -> Any:
    async with UnitOfWork(database_of(client).sessions) as uow:
        return await uow.chat.user(OA_APPID, openid)


async def test_subscribe_welcomes_with_the_menu_and_unsubscribe_is_kept(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    assert await alice.event("subscribe") == f"{WELCOME}\n{HELP}"
    user = await _chat_user(bot, alice.openid)
    assert user.subscribed and user.subscribed_at == clock.now() and user.driver_id is not None
    assert await alice.event("unsubscribe") is None
    user = await _chat_user(bot, alice.openid)
    assert not user.subscribed and user.unsubscribed_at == clock.now()


async def test_a_berth_qr_code_shows_its_price_and_the_stay(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    await bot.post(
        "/devices/sensors/events", json=sensor("q-1", "HS2-007", "occupied", "浙B31313", "09:00")
    )
    clock.advance(timedelta(hours=1, minutes=30))
    alice = await follower(bot, oa_sandbox, clock, "alice")
    scanned = await alice.event("subscribe", EventKey="qrscene_berth:HS2-007", Ticket="t-1")
    assert scanned is not None and scanned.startswith(WELCOME)
    assert "泊位 HS2-007，鼓楼片区·公园路" in scanned and description("onstreet-class2") in scanned
    assert "正在计费：浙B***13 已停1小时30分钟" in scanned and "元" in scanned
    empty = await alice.event("SCAN", EventKey="berth:HS2-008", Ticket="t-2")
    assert empty is not None and "泊位 HS2-008" in empty and "自动开始计时" in empty
    # The berth is now "这里".
    assert description("onstreet-class2") in await alice.say("这里怎么收费")


async def test_a_lane_qr_code_shows_the_lot_price(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    entry = await alice.event("SCAN", EventKey="lane:LOT-TIANYI/E1", Ticket="t-3")
    assert entry is not None and f"天一广场地下停车场收费：{description('lot-standard')}" in entry
    leaving = await alice.event("SCAN", EventKey="lane:LOT-TIANYI/X1", Ticket="t-4")
    assert leaving is not None and "该出口暂无待缴费车辆" in leaving
    unknown = await alice.event("SCAN", EventKey="something-else", Ticket="t-5")
    assert unknown == HELP


async def test_menu_clicks_name_intents_and_view_says_nothing(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    assert "请发送您的位置" in (await alice.event("CLICK", EventKey="FIND_PARKING") or "")
    assert (
        await alice.event("LOCATION", Latitude=29.86905, Longitude=121.55470, Precision=30) is None
    )
    near = await alice.event("CLICK", EventKey="FIND_PARKING")
    assert near is not None and near.startswith("您的位置附近") and "天一广场地下停车场" in near
    assert "小型车月卡300元/月" in (await alice.event("CLICK", EventKey="PASS") or "")
    assert "电子发票" in (await alice.event("CLICK", EventKey="INVOICE") or "")
    assert await alice.event("CLICK", EventKey="NO_SUCH_KEY") == HELP
    assert await alice.event("VIEW", EventKey="https://example.com/") is None


async def test_asked_for_a_plate_the_next_message_is_the_plate(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    assert "哪个车牌" in await alice.say("绑定车牌")
    assert "已绑定 浙B40001（未认证）" in await alice.say("浙b40001")
    assert "浙B40001 暂无待缴停车费" in await alice.say("欠了多少")


async def test_the_question_times_out(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bob = await follower(bot, oa_sandbox, clock, "bob")
    assert "哪个车牌" in await bob.say("我要绑定")
    clock.advance(timedelta(minutes=31))
    # Half an hour later the plate alone is a question about what it owes, not a binding.
    answer = await bob.say("浙B40002")
    assert "浙B40002 暂无待缴停车费" in answer and "已绑定" not in answer


async def test_a_place_after_the_question_and_here_is_the_last_place(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    assert "请发送您的位置" in await alice.say("附近能停车吗")
    near = await alice.say("老外滩")
    assert near.startswith("老外滩附近") and "老外滩外围·人民路" in near
    assert description("onstreet-class3") in await alice.say("这里收费标准是什么")
    again = await alice.say("这附近还有车位吗")
    assert again.startswith("老外滩附近")
    located = await alice.send_location(29.87654, 121.54621, "医院门口")
    assert located.startswith("医院门口附近")
    assert "小型车月卡200元/月" in await alice.say("这里有月卡吗")


async def test_chat_state_lives_per_user(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    bob = await follower(bot, oa_sandbox, clock, "bob")
    assert "哪个车牌" in await alice.say("绑定")
    assert "浙B40003 暂无待缴停车费" in await bob.say("浙B40003")
    assert "已绑定 浙B40004" in await alice.say("浙B40004")


async def test_identity_is_linked_once_by_the_unionid(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    await alice.say("你好")
    async with UnitOfWork(database_of(bot).sessions) as uow:
        driver = await uow.drivers.by_unionid(alice.unionid)
        assert driver is not None
        assert await uow.drivers.openid(driver.id, OA_APPID) == alice.openid
        user = await uow.chat.user(OA_APPID, alice.openid)
        assert user is not None and user.driver_id == driver.id
    await mini_program_login(bot, oa_sandbox, "alice")
    async with UnitOfWork(database_of(bot).sessions) as uow:
        same = await uow.drivers.by_unionid(alice.unionid)
        assert same is not None and same.id == driver.id
        assert await uow.drivers.openid(driver.id, APPID) is not None
