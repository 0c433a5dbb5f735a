"""The bot's pure parts: intents from the data file, plates in sentences, place names, text size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.gazetteer import Gazetteer, NamedPlace, load_landmarks
from bot.intents import Intent, IntentBookError, Recogniser, book_from, load_book
from bot.state import ChatState, LastPlace, MemoryStateStore
from bot.texts import MAX_TEXT_BYTES, Link, Writer, duration
from core.clock import FrozenClock
from core.nearby import GeoPoint
from core.plates import find_plates


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    return Recogniser(load_book())


PHRASES: dict[Intent, list[str]] = {
    Intent.FIND_PARKING: [
        "附近哪里有停车位",
        "火车站附近能停车吗",
        "去天一广场停哪",
        "哪里可以停车",
        "有空位吗",
        "停车卫",
        "找个车位",
        "周边能停不",
        "鼓楼那边好停车吗",
        "停车场在哪",
        "哪能停",
    ],
    Intent.CURRENT_STAY: [
        "我停了多久",
        "现在多少钱",
        "停了几个小时了",
        "现在要交多少",
        "目前费用",
        "停车时长",
        "我的车在哪",
        "到现在多少钱",
        "已经停了多久",
        "现在是多少钱",
        "停多久了",
    ],
    Intent.ARREARS: [
        "欠了多少",
        "怎么补缴",
        "我还欠多少",
        "有没有欠费",
        "补交",
        "待缴费用",
        "没交的钱",
        "欠费",
        "查一下欠费",
        "怎么交停车费",
        "先离后缴怎么付",
    ],
    Intent.BIND_PLATE: [
        "绑定 浙b 12345",
        "绑车",
        "添加车牌",
        "加个车牌",
        "登记车牌 浙B12345",
        "关联车牌",
        "帮我绑一下",
        "车牌绑定",
        "新增车牌",
        "邦定车牌",
        "绑定浙Ｂ１２３４５",
    ],
    Intent.INVOICE: [
        "开票",
        "要发票",
        "开发票",
        "发票",
        "报销用",
        "电子发票",
        "收据",
        "开个票",
        "发漂",
        "打印发票",
        "税号怎么填",
    ],
    Intent.TARIFF: [
        "二类区怎么收费",
        "这个停车场多少钱",
        "收费标准",
        "一小时多少钱",
        "价格",
        "贵不贵",
        "怎么计费",
        "免费时间多长",
        "每天封顶多少",
        "咋收费",
        "几块钱一小时",
    ],
    Intent.PASS: [
        "包月多少钱",
        "月卡续费",
        "月卡怎么办",
        "月租",
        "办卡",
        "年卡",
        "包越",
        "月票",
        "储值卡充值",
        "长租车位",
        "会员卡",
    ],
    Intent.HUMAN: [
        "人工",
        "客服",
        "投诉",
        "乱收费",
        "多扣钱了",
        "转人工",
        "退款",
        "扣错了",
        "找人工客服",
        "重复扣费",
        "我要申诉",
    ],
    Intent.GREETING: [
        "你好",
        "在吗",
        "?",
        "？",
        "您好",
        "hi",
        "Hello",
        "帮助",
        "菜单",
        "泥嚎",
        "早上好",
    ],
}


@pytest.mark.parametrize(
    ("intent", "phrase"), [(i, p) for i, phrases in PHRASES.items() for p in phrases]
)
def test_each_intent_from_many_phrasings(
    recogniser: Recogniser, intent: Intent, phrase: str
) -> None:
    assert recogniser.recognise(phrase).intent is intent


@pytest.mark.parametrize("phrase", ["今天天气不错", "哈哈", "asdf", "讲个笑话", "", "   "])
def test_other_text_falls_back(recogniser: Recogniser, phrase: str) -> None:
    assert recogniser.recognise(phrase).intent is Intent.FALLBACK


def test_the_rest_of_a_sentence_is_the_place(recogniser: Recogniser) -> None:
    assert recogniser.recognise("火车站附近能停车吗").place_query == "火车站"
    assert recogniser.recognise("去天一广场停哪").place_query == "天一广场"
    assert recogniser.recognise("附近哪里有停车位").place_query == ""
    found = recogniser.recognise("这里怎么收费")
    assert found.here and found.intent is Intent.TARIFF
    assert recogniser.recognise("三类区多少钱").zone_class == 3


def test_a_bare_plate_and_plates_in_a_sentence(recogniser: Recogniser) -> None:
    bare = recogniser.recognise("浙Ｂ　１２３４５")
    assert bare.intent is Intent.PLATE_ONLY and [p.number for p in bare.plates] == ["浙B12345"]
    both = recogniser.recognise("绑定浙b12345和沪AD12345")
    assert both.intent is Intent.BIND_PLATE
    assert [p.number for p in both.plates] == ["浙B12345", "沪AD12345"]


@pytest.mark.parametrize(
    ("text", "plates", "rest"),
    [
        ("绑定 浙b 12345", ["浙B12345"], "绑定"),
        ("浙Ｂ１２３４５欠多少", ["浙B12345"], "欠多少"),
        ("我的车浙B1234O", ["浙B12340"], "我的车"),  # O typed for 0
        ("查浙BI2345", ["浙B12345"], "查"),  # I typed for 1
        ("浙b·55555", ["浙B55555"], ""),
        ("粤B12345F 新能源", ["粤B12345F"], "新能源"),
        ("浙B123456", [], "浙B123456"),  # one digit too many: not a plate
        ("浙江省", [], "浙江省"),
        ("浙B12345浙B12345", ["浙B12345"], ""),
    ],
)
def test_plates_anywhere_in_a_sentence(text: str, plates: list[str], rest: str) -> None:
    found = find_plates(text)
    assert [p.number for p in found.plates] == plates and found.rest == rest


def test_an_operator_adds_phrasing_in_data_only() -> None:
    data = {
        "intents": {"pass": {"priority": 1, "keywords": ["停车包年套餐"]}},
        "synonyms": {"套票": "停车包年套餐"},
    }
    recogniser = Recogniser(book_from(data))
    assert recogniser.recognise("有套票吗").intent is Intent.PASS
    with pytest.raises(IntentBookError, match=r"intents\.lottery"):
        book_from({"intents": {"lottery": {"keywords": ["中奖"]}}})
    with pytest.raises(IntentBookError, match="no keywords"):
        book_from({"intents": {"pass": {"keywords": []}}})


def _gazetteer() -> Gazetteer:
    lot = NamedPlace("天一广场地下停车场", GeoPoint(29.86821, 121.55483), "lot", lot="LOT-TIANYI")
    street = NamedPlace("鼓楼片区·公园路", GeoPoint(29.8744, 121.547), "street", zone="HS2")
    entries: list[tuple[NamedPlace, list[str]]] = [(lot, ["LOT-TIANYI"]), (street, ["公园路"])]
    for mark in load_landmarks():
        entries.append((NamedPlace(mark.name, mark.point, "landmark"), list(mark.aliases)))
    return Gazetteer(entries)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("火车站", "宁波火车站"),
        ("天一广厂", "天一广场"),  # sounds the same
        ("一院", "宁波市第一医院"),
        ("公园路", "鼓楼片区·公园路"),
        ("天一广场地下停车场", "天一广场地下停车场"),
        ("月湖", "月湖公园"),
        ("今天天气不错", None),
        ("北京西站", None),
    ],
)
def test_place_names_are_found_fuzzily(query: str, name: str | None) -> None:
    found = _gazetteer().lookup(query)
    assert (found.name if found else None) == name


def test_replies_fit_wechats_2048_bytes() -> None:
    writer = Writer("wx-mini")
    long = writer.reply(
        [f"第{n}行：天一广场地下停车场空位很多" for n in range(200)], Link("去看看", "pages/a")
    )
    assert len(long.encode()) <= MAX_TEXT_BYTES
    assert long.endswith('data-miniprogram-path="pages/a">去看看</a>') and "……" in long
    assert writer.reply(["短"]) == "短"
    assert Writer(None).link(Link("缴费", "pages/p")) == "（请在小程序中缴费）"
    assert duration(timedelta(hours=2, minutes=5)) == "2小时5分钟"


async def test_memory_state_times_out() -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 1, tzinfo=UTC))
    store = MemoryStateStore(clock, timedelta(minutes=30))
    state = ChatState(awaiting="bind_plate", place=LastPlace("鼓楼", 29.87, 121.54))
    await store.save("a", state)
    clock.advance(timedelta(minutes=29))
    assert await store.load("a") == state
    clock.advance(timedelta(minutes=2))
    assert await store.load("a") == ChatState()
    assert ChatState.from_json(state.to_json()) == state
    assert ChatState.from_json("not json") == ChatState()
