"""The demo city: two Ningbo districts, three on-street zones, two gated lots, three operators
(each its own WeChat Pay sub-merchant), demo staff."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from config.production import demo_passwords_refused
from config.settings import Settings
from core.billing import load_tariff_file
from core.clock import Clock, SystemClock
from core.store.city import (
    BerthRow,
    DeviceRow,
    DistrictRow,
    LaneRow,
    LotLevelRow,
    LotRow,
    OperatorRow,
    TariffRow,
    ZoneRow,
)
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork
from ops_api.commands import seed_demo_staff
from sandbox.demo_lots import load_demo_lots

log = logging.getLogger(__name__)

TARIFF_DIR = Path(__file__).resolve().parents[1] / "tariffs"
TARIFFS_SINCE = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DemoZone:
    """A zone of the demo city laid along one street."""

    code: str
    name: str
    zone_class: int
    district: str
    street: str
    start: tuple[str, str]  # GCJ-02 latitude, longitude of the first berth
    step: tuple[str, str]  # offset between neighbouring berths, about 6 m
    operator: str = "OP-CITY"  # who runs the zone's berths and is paid for them


ZONES = (
    DemoZone(
        "HS1",
        "天一广场核心区",
        1,
        "D-HAISHU",
        "中山东路",
        ("29.869120", "121.553180"),
        ("0.000000", "0.000060"),
    ),
    DemoZone(
        "HS2",
        "鼓楼片区",
        2,
        "D-HAISHU",
        "公园路",
        ("29.874410", "121.547020"),
        ("0.000055", "0.000000"),
    ),
    DemoZone(
        "JB3",
        "老外滩外围",
        3,
        "D-JIANGBEI",
        "人民路",
        ("29.882630", "121.559870"),
        ("0.000050", "0.000020"),
        operator="OP-JIANGBEI",  # Jiangbei contracts its own operator: a third sub-merchant
    ),
)
BERTHS_PER_ZONE = 20


async def seed_demo_city(settings: Settings, *, if_empty: bool, clock: Clock | None = None) -> int:
    """Load the demo city into the configured database; returns a process exit code."""
    database = open_database(settings.database_url)
    try:
        async with UnitOfWork(database.sessions) as uow:
            if await uow.session.scalar(select(func.count(OperatorRow.id))):
                if if_empty:
                    log.info("demo city already loaded; nothing to do")
                    return 0
                log.error("the database already has data; seed-demo only fills an empty one")
                return 1
            staff = not demo_passwords_refused(settings)
            if not staff:
                log.warning("outside development: the demo staff accounts are not seeded")
            await load_demo_city(uow, clock or SystemClock(), with_staff=staff)
            await uow.commit()
    finally:
        await database.dispose()
    log.info("demo city loaded")
    return 0


async def load_demo_city(uow: UnitOfWork, clock: Clock, *, with_staff: bool = True) -> None:
    """Add the demo city to an open unit of work, without committing."""
    session = uow.session
    city_op = OperatorRow(
        code="OP-CITY",
        name="宁波城投停车运营有限公司",
        sub_mchid="1900000101",
        fiscal_receipts=True,
    )
    mall_op = OperatorRow(code="OP-TIANYI", name="天一商业管理有限公司", sub_mchid="1900000102")
    jiangbei_op = OperatorRow(  # collects public on-street fees too: fiscal receipts
        code="OP-JIANGBEI",
        name="宁波江北停车服务有限公司",
        sub_mchid="1900000103",
        fiscal_receipts=True,
    )
    haishu = DistrictRow(code="D-HAISHU", name="海曙区")
    jiangbei = DistrictRow(code="D-JIANGBEI", name="江北区")
    session.add_all([city_op, mall_op, jiangbei_op, haishu, jiangbei])
    _add_tariffs(uow, clock)
    await session.flush()
    districts = {d.code: d for d in (haishu, jiangbei)}
    operators = {o.code: o for o in (city_op, mall_op, jiangbei_op)}
    for spec in ZONES:
        await _add_zone(uow, spec, districts[spec.district], operators[spec.operator])
    hospital = LotRow(
        code="LOT-HOSP",
        name="宁波市第一医院停车场",
        kind="hospital",
        district_id=haishu.id,
        operator_id=city_op.id,
        tariff_code="lot-standard",
        capacity=320,
        lat=Decimal("29.876540"),
        lng=Decimal("121.546210"),
    )
    mall = LotRow(
        code="LOT-TIANYI",
        name="天一广场地下停车场",
        kind="mall",
        district_id=haishu.id,
        operator_id=mall_op.id,
        tariff_code="lot-standard",
        capacity=1200,
        lat=Decimal("29.868210"),
        lng=Decimal("121.554830"),
    )
    session.add_all([hospital, mall])
    await session.flush()
    session.add_all(LotLevelRow(lot_id=mall.id, code=c, capacity=400) for c in ("B1", "B2", "B3"))
    for lot in (hospital, mall):
        await _add_lanes(uow, lot)
    await load_demo_lots(uow, clock, [hospital, mall])
    if with_staff:  # their password is published: never outside development
        await seed_demo_staff(uow, clock)


def _add_tariffs(uow: UnitOfWork, clock: Clock) -> None:
    for path in sorted(TARIFF_DIR.glob("*.toml")):
        tariff = load_tariff_file(path)
        uow.tariffs.add(
            TariffRow(
                code=path.stem,
                version=1,
                effective_from=TARIFFS_SINCE,
                body=tariff.to_dict(),
                created_at=clock.now(),
            )
        )


async def _add_zone(
    uow: UnitOfWork, spec: DemoZone, district: DistrictRow, operator: OperatorRow
) -> None:
    zone = ZoneRow(
        code=spec.code,
        name=spec.name,
        zone_class=spec.zone_class,
        district_id=district.id,
        operator_id=operator.id,
        tariff_code=f"onstreet-class{spec.zone_class}",
    )
    uow.session.add(zone)
    await uow.session.flush()
    lat, lng = Decimal(spec.start[0]), Decimal(spec.start[1])
    for n in range(1, BERTHS_PER_ZONE + 1):
        berth = BerthRow(
            code=f"{spec.code}-{n:03d}",
            zone_id=zone.id,
            street=spec.street,
            lat=lat + Decimal(spec.step[0]) * (n - 1),
            lng=lng + Decimal(spec.step[1]) * (n - 1),
        )
        uow.session.add(berth)
        await uow.session.flush()
        uow.session.add(
            DeviceRow(
                code=f"MAG-{berth.code}", kind="berth_sensor", vendor="own", berth_id=berth.id
            )
        )


async def _add_lanes(uow: UnitOfWork, lot: LotRow) -> None:
    for code, name, direction in (("E1", "1号入口", "entry"), ("X1", "1号出口", "exit")):
        lane = LaneRow(lot_id=lot.id, code=code, name=name, direction=direction)
        uow.session.add(lane)
        await uow.session.flush()
        kinds = ["anpr_camera", "barrier_gate"] + (["led_display"] if direction == "exit" else [])
        uow.session.add_all(
            DeviceRow(code=f"{lot.code}-{code}-{kind}", kind=kind, vendor="own", lane_id=lane.id)
            for kind in kinds
        )
