"""Answers about places: spaces near a point or a named place, tariffs, monthly passes."""

from __future__ import annotations

from bot.gazetteer import NamedPlace
from bot.intents import Recognition
from bot.state import LastPlace
from bot.texts import distance
from bot.turn import Turn
from core.nearby import GeoPoint, PlaceKind, distance_m
from core.services.nearby import NearbyPlace, spaces_near
from core.services.pass_orders import list_products

LOT_AT_PLACE_M = 300.0  # a lot this close to a named landmark is "its" lot
ASK_PLACE = "请发送您的位置（点“+”→“位置”），或告诉我地点，例如“天一广场附近停车”。"


async def named_place(
    turn: Turn, recognition: Recognition, *, last_by_default: bool = False
) -> LastPlace | None:
    """The place a sentence names (looked up in the gazetteer), or the last one for "这里"
    (or, with last_by_default, when the sentence names none: "附近哪里有车位")."""
    if recognition.place_query:
        gazetteer = await turn.setup.gazetteer(turn.uow)
        found = gazetteer.lookup(recognition.place_query)
        if found is not None:
            return _remembered(found)
    if recognition.here or (last_by_default and not recognition.place_query):
        return turn.state.place
    return None


def _remembered(place: NamedPlace) -> LastPlace:
    return LastPlace(
        place.name, place.point.lat, place.point.lng, place.lot, place.zone, place.tariff_code
    )


async def find_parking(turn: Turn, place: LastPlace | None) -> str:
    """The nearest lots and streets with free spaces, or a request for the location."""
    if place is None:
        turn.state = turn.state.with_changes(awaiting="find_parking")
        return ASK_PLACE
    turn.state = turn.state.with_changes(place=place, awaiting=None)
    setup = turn.setup
    near = await spaces_near(
        turn.uow,
        turn.clock,
        setup.places,
        setup.catalogue,
        setup.briefs,
        setup.availability(),
        GeoPoint(place.lat, place.lng),
        radius_m=setup.radius_m,
        limit=setup.nearby_limit * 2,
    )
    with_space = [p for p in near if p.free > 0][: setup.nearby_limit]
    if not with_space:
        full = "附近的停车位暂时已满" if near else "附近暂无我们管理的停车场或路内泊位"
        return setup.writer.reply(
            [f"{place.name}{setup.radius_m / 1000:.1f}公里内{full}。"],
            setup.page("nearby", "在小程序中查看更大范围"),
        )
    lines = [f"{place.name}附近有空位的停车点："]
    lines += [_line(i, p) for i, p in enumerate(with_space, 1)]
    return setup.writer.reply(lines, setup.page("nearby", "打开小程序导航"))


def _line(n: int, place: NearbyPlace) -> str:
    kind = "停车场" if place.spot.kind is PlaceKind.LOT else "路内"
    price = f"；{place.price_text}" if place.price_text is not None else ""
    return (
        f"{n}. {place.spot.name}（{kind}）{distance(place.distance_m)}，"
        f"空位{place.free}/{place.spot.total}{count_age(place)}{price}"
    )


def count_age(place: NearbyPlace) -> str:
    """How old a networked lot's count is, in words (our own counts are live)."""
    note = place.network
    if note is None or note.count_age_s is None:
        return ""
    if note.count_age_s < 60:
        return "（刚刚更新）"
    if note.count_age_s < 3600:
        return f"（{note.count_age_s // 60}分钟前更新）"
    return f"（{note.count_age_s // 3600}小时前更新，仅供参考）"


async def tariff(turn: Turn, recognition: Recognition, place: LastPlace | None) -> str:
    """The tariff's own Chinese summary for a zone class, a lot, a street or the last place."""
    writer = turn.setup.writer
    if recognition.zone_class is not None:
        code = f"onstreet-class{recognition.zone_class}"
        summary = await summary_of(turn, code)
        if summary is not None:
            return writer.reply([f"路内{_class_zh(recognition.zone_class)}类区：{summary}"])
    if place is not None and place.tariff_code is not None:
        turn.state = turn.state.with_changes(place=place)
        summary = await summary_of(turn, place.tariff_code)
        if summary is not None:
            return writer.reply([f"{place.name}：{summary}"], turn.setup.page("nearby", "查看位置"))
    if place is not None:  # a landmark: the tariffs of the places around it
        turn.state = turn.state.with_changes(place=place)
        near = await spaces_near(
            turn.uow,
            turn.clock,
            turn.setup.places,
            turn.setup.catalogue,
            turn.setup.briefs,
            turn.setup.availability(),
            GeoPoint(place.lat, place.lng),
            radius_m=turn.setup.radius_m,
            limit=3,
        )
        if near:
            lines = [f"{place.name}附近的收费标准："]
            for p in near:
                summary = await summary_of(turn, p.spot.tariff_code) or p.price_text
                lines.append(f"· {p.spot.name}（{distance(p.distance_m)}）：{summary or '暂无'}")
            return writer.reply(lines)
    lines = ["收费标准（小型车）："]
    for zone_class in (1, 2, 3):
        summary = await summary_of(turn, f"onstreet-class{zone_class}")
        if summary:
            lines.append(f"· 路内{_class_zh(zone_class)}类区：{summary}")
    lines.append("发送停车场或路段名称（如“天一广场停车场多少钱”）可查询具体收费。")
    return writer.reply(lines)


async def summary_of(turn: Turn, code: str) -> str | None:
    """The Chinese description the tariff in force carries."""
    row = await turn.uow.tariffs.version_at(code, turn.clock.now())
    if row is None:
        return None
    text = row.body.get("description") or row.body.get("name")
    return str(text) if text else None


def _class_zh(zone_class: int) -> str:
    return "一二三四五"[zone_class - 1] if 1 <= zone_class <= 5 else str(zone_class)


async def passes(turn: Turn, place: LastPlace | None) -> str:
    """Monthly passes of the lot named (or of every lot) and the buy link."""
    setup = turn.setup
    lots = [place.lot] if place is not None and place.lot else None
    spots = await turn.uow.places.lots(lots)
    if place is not None and lots is None:  # a landmark or street: the lot right there, if any
        here = GeoPoint(place.lat, place.lng)
        close = [s for s in spots if distance_m(here, s.point) <= LOT_AT_PLACE_M]
        spots = close or spots
    lines: list[str] = []
    first: str | None = None
    for spot in sorted(spots, key=lambda s: s.code):
        products = await list_products(turn.uow, spot.code)
        if not products:
            continue
        first = first or spot.code
        offers = "；".join(
            f"{p.name}{p.month_fen // 100}元/月"
            + ("" if p.online or "管理处" in p.name else "（管理处办理）")
            for p in products
        )
        lines.append(f"· {spot.name}：{offers}")
    if not lines:
        where = place.name if place is not None else "城市"
        return setup.writer.reply([f"{where}暂无月卡产品，路内泊位按次计费。"])
    if place is not None and place.zone and not place.lot:
        lines.insert(0, "路内泊位没有月卡，附近停车场的月卡：")
    else:
        lines.insert(0, "月卡（按自然月计费，可续费）：")
    several = len(lines) > 2  # the heading and more than one lot: the page lists them all
    link = setup.page("passes", "购买或续费月卡", **({} if several else {"lot": first or ""}))
    return setup.writer.reply(lines, link)
