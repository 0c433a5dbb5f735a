"""Lot admin services on both databases: rights, block list, policies, the missed-exit review."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.errors import DomainError
from core.lanes import Access
from core.lot_policies import PolicyInvalidError
from core.lot_rights import RightInvalidError, RightKind
from core.services import lot_policies, lot_review, lot_rights, plate_blocks
from core.services.calendar import OverridableCalendar
from core.services.lane_entry import open_lot_stay
from core.services.lot_places import OutOfScopeError
from core.staff import Role, StaffIdentity, parse_scope
from core.store.activity import AuditRow, LedgerPostingRow, StayRow
from core.store.lots import LotRightRow, PlateBlockRow
from core.store.unit_of_work import UnitOfWork
from tests.conftest import SHANGHAI, START

Factory = Callable[[], UnitOfWork]
ADMIN = StaffIdentity(1, "demo-admin", Role.ADMIN, parse_scope([]))
HOSP_CASHIER = StaffIdentity(3, "demo-cashier", Role.CASHIER, parse_scope(["lot:LOT-HOSP"]))
NEXT_YEAR = START + timedelta(days=365)


async def create(uow_factory: Factory, clock: FrozenClock, **terms: Any) -> lot_rights.RightView:
    base: dict[str, Any] = {
        "lot_code": "LOT-HOSP",
        "kind": RightKind.MONTHLY,
        "holder": "张先生",
        "plates": ["浙B20001"],
        "valid_from": START,
        "valid_until": START + timedelta(days=30),
        "reason": "办理月租",
    }
    async with uow_factory() as uow:
        return await lot_rights.create_right(uow, clock, ADMIN, **(base | terms))


async def refused(call: Any, error: type[DomainError]) -> DomainError:
    with pytest.raises(error) as caught:
        await call
    return caught.value


async def audit_actions(uow_factory: Factory, prefix: str) -> list[tuple[str, str, str]]:
    async with uow_factory() as uow:
        rows = await uow.session.scalars(
            select(AuditRow).where(AuditRow.action.like(f"{prefix}%")).order_by(AuditRow.id)
        )
        return [(r.action, r.target, r.actor) for r in rows]


async def count(uow_factory: Factory, table: Any) -> int:
    async with uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(table)) or 0)


async def test_a_monthly_pass_runs_whole_days_and_a_plate_holds_one_per_kind(
    uow_factory: Factory, clock: FrozenClock
) -> None:
    view = await create(uow_factory, clock, windows=["20:00-08:00"])
    assert view.ref.startswith("MP-") and view.windows == "20:00-08:00"
    assert view.valid_from == datetime(2026, 11, 25, tzinfo=SHANGHAI)
    assert view.valid_until == datetime(2026, 12, 26, tzinfo=SHANGHAI)  # up to the whole day
    rights = await count(uow_factory, LotRightRow)
    async with uow_factory() as uow:
        error = await refused(
            lot_rights.create_right(
                uow,
                clock,
                ADMIN,
                lot_code="LOT-HOSP",
                kind=RightKind.MONTHLY,
                holder="另一人",
                plates=["浙B20009", "浙B20001"],
                valid_from=START + timedelta(days=20),
                valid_until=START + timedelta(days=60),
                reason="重复办理",
            ),
            lot_rights.RightOverlapError,
        )
    assert error.message_zh == f"车牌浙B20001在本停车场已有有效期重叠的同类权益（{view.ref}）"
    assert await count(uow_factory, LotRightRow) == rights
    # Another kind, another lot, or a later month are all fine.
    await create(uow_factory, clock, kind=RightKind.STORED_VALUE, balance_fen=5000)
    await create(uow_factory, clock, lot_code="LOT-TIANYI")
    later = await create(
        uow_factory,
        clock,
        valid_from=START + timedelta(days=31),
        valid_until=START + timedelta(days=60),
    )
    assert later.valid_from == datetime(2026, 12, 26, tzinfo=SHANGHAI)
    assert [a for a, _, _ in await audit_actions(uow_factory, "lot_right.")] == [
        "lot_right.create"
    ] * 4


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"spaces": 2}, "车位数不能多于车牌数"),
        ({"windows": ["25:00-08:00"]}, "时段格式应为 HH:MM-HH:MM，收到：25:00-08:00"),
        ({"kind": RightKind.SPECIAL, "windows": ["20:00-08:00"]}, "只有月租可以限定时段"),
        ({"balance_fen": 100}, "只有储值卡可以有余额"),
        ({"valid_until": START - timedelta(days=2)}, "有效期截止须晚于开始"),
        ({"holder": "  "}, "持有人须为1至64个字符"),
    ],
)
async def test_bad_terms_are_a_chinese_422_and_store_nothing(
    uow_factory: Factory, clock: FrozenClock, terms: dict[str, Any], message: str
) -> None:
    before = await count(uow_factory, LotRightRow)
    with pytest.raises(RightInvalidError) as caught:
        await create(uow_factory, clock, **terms)
    assert (caught.value.status, caught.value.message_zh) == (422, message)
    assert await count(uow_factory, LotRightRow) == before


async def test_owned_spaces_stay_within_the_sold_spaces(
    uow_factory: Factory, clock: FrozenClock
) -> None:
    owned = {"kind": RightKind.OWNED_SPACE, "valid_until": NEXT_YEAR}
    error = await refused(create(uow_factory, clock, **owned), lot_rights.SoldSpacesFullError)
    assert error.message_zh == "本停车场已售车位0个，已登记0个，不能再登记1个"
    async with uow_factory() as uow:
        await lot_policies.update_policy(
            uow, clock, ADMIN, "LOT-HOSP", {"sold_spaces": 1}, reason="出售一个车位"
        )
    await create(uow_factory, clock, **owned)
    await refused(
        create(uow_factory, clock, plates=["浙B20002"], **owned), lot_rights.SoldSpacesFullError
    )
    async with uow_factory() as uow:
        error = await refused(
            lot_policies.update_policy(
                uow, clock, ADMIN, "LOT-HOSP", {"sold_spaces": 0}, reason="改回"
            ),
            PolicyInvalidError,
        )
    assert error.message_zh == "已登记业主车位1个，已售车位不能少于此数"


async def test_plates_change_extend_and_cancel(uow_factory: Factory, clock: FrozenClock) -> None:
    card = await create(uow_factory, clock, kind=RightKind.STORED_VALUE, balance_fen=1000)
    other = await create(uow_factory, clock, plates=["浙B20003"])
    async with uow_factory() as uow:
        changed = await lot_rights.change_plates(
            uow, clock, ADMIN, other.ref, add=["浙B20004"], reason="家庭第二辆车"
        )
    assert changed.plates == ["浙B20003", "浙B20004"]
    async with uow_factory() as uow:
        error = await refused(
            lot_rights.change_plates(uow, clock, ADMIN, other.ref, add=["浙B20004"], reason="再加"),
            lot_rights.RightPlateError,
        )
    assert error.message_zh == "车牌浙B20004已在该权益中"
    async with uow_factory() as uow:
        error = await refused(
            lot_rights.change_plates(
                uow, clock, ADMIN, other.ref, remove=["浙B20003", "浙B20004"], reason="全删"
            ),
            RightInvalidError,
        )
    assert error.message_zh == "车牌数不能少于车位数"
    monthly = await create(uow_factory, clock, plates=["浙B20005"])
    async with uow_factory() as uow:  # 浙B20003 already holds a monthly pass there
        await refused(
            lot_rights.change_plates(uow, clock, ADMIN, monthly.ref, add=["浙B20003"], reason="加"),
            lot_rights.RightOverlapError,
        )
    async with uow_factory() as uow:
        extended = await lot_rights.extend_right(
            uow, clock, ADMIN, monthly.ref, START + timedelta(days=60, hours=3), reason="续费一月"
        )
    assert extended.valid_until == datetime(2027, 1, 25, tzinfo=SHANGHAI)
    async with uow_factory() as uow:
        error = await refused(
            lot_rights.extend_right(uow, clock, ADMIN, monthly.ref, START, reason="缩短"),
            RightInvalidError,
        )
    assert error.message_zh == "新的截止时间须晚于原截止时间"
    async with uow_factory() as uow:
        error = await refused(
            lot_rights.cancel_right(uow, clock, ADMIN, card.ref, reason="退卡"),
            lot_rights.BalanceLeftError,
        )
    assert error.message_zh == "储值卡仍有余额10.00元，请先办理退款"
    async with uow_factory() as uow:
        cancelled = await lot_rights.cancel_right(uow, clock, ADMIN, monthly.ref, reason="退租")
    assert cancelled.status == "cancelled"
    async with uow_factory() as uow:
        await refused(
            lot_rights.cancel_right(uow, clock, ADMIN, monthly.ref, reason="再退"),
            lot_rights.RightNotActiveError,
        )
    actions = [a for a, _, _ in await audit_actions(uow_factory, "lot_right.")]
    assert actions == [
        "lot_right.create",
        "lot_right.create",
        "lot_right.plates",
        "lot_right.create",
        "lot_right.extend",
        "lot_right.cancel",
    ]


async def test_rights_are_listed_by_plate_and_scope_and_read_with_their_uses(
    uow_factory: Factory, clock: FrozenClock
) -> None:
    mine = await create(uow_factory, clock, plates=["浙B20006"])
    await create(uow_factory, clock, lot_code="LOT-TIANYI", plates=["浙B20006"])
    async with uow_factory() as uow:
        views, _ = await lot_rights.list_rights(uow, ADMIN, plate="浙B20006")
        scoped, _ = await lot_rights.list_rights(uow, HOSP_CASHIER, plate="浙B20006")
        await refused(
            lot_rights.list_rights(uow, HOSP_CASHIER, lot_code="LOT-TIANYI"), OutOfScopeError
        )
        page, after = await lot_rights.list_rights(uow, ADMIN, limit=2)
        lot = await uow.city.lot_by_code("LOT-HOSP")
        assert lot is not None
        right = await uow.lots.right_by_ref(mine.ref)
        await open_lot_stay(
            uow, lot, None, None, Access.MONTHLY, right, clock.now(), plate="浙B20006"
        )
        await uow.commit()
    assert {v.lot for v in views} == {"LOT-HOSP", "LOT-TIANYI"}
    assert [v.ref for v in scoped] == [mine.ref]
    assert len(page) == 2 and after is not None
    async with uow_factory() as uow:
        detail = await lot_rights.right_detail(uow, ADMIN, mine.ref)
        await refused(lot_rights.right_detail(uow, ADMIN, "MP-NONE"), lot_rights.RightNotFoundError)
    assert [(s.plate, s.status) for s in detail.uses] == [("浙B20006", "open")]


async def test_block_list_add_lift_and_scope(uow_factory: Factory, clock: FrozenClock) -> None:
    async with uow_factory() as uow:
        block = await plate_blocks.block_plate(
            uow, clock, HOSP_CASHIER, "浙B30001", "LOT-HOSP", reason="多次逃费"
        )
    async with uow_factory() as uow:
        await refused(
            plate_blocks.block_plate(uow, clock, ADMIN, "浙B30001", "LOT-HOSP", reason="再次"),
            plate_blocks.AlreadyBlockedError,
        )
        error = await refused(
            plate_blocks.block_plate(uow, clock, HOSP_CASHIER, "浙B30001", None, reason="全部"),
            OutOfScopeError,
        )
        assert error.message_zh == "只有全市范围的账号可以在所有停车场禁入"
    async with uow_factory() as uow:
        everywhere = await plate_blocks.block_plate(
            uow, clock, ADMIN, "浙B30001", None, reason="全市禁入"
        )
    assert (block.lot, everywhere.lot) == ("LOT-HOSP", None)
    async with uow_factory() as uow:
        lifted = await plate_blocks.lift_block(uow, clock, ADMIN, block.id, reason="已补缴")
    assert (lifted.active, lifted.lifted_by) == (False, "demo-admin")
    async with uow_factory() as uow:
        await refused(
            plate_blocks.lift_block(uow, clock, ADMIN, block.id, reason="再解"),
            plate_blocks.BlockLiftedError,
        )
        await refused(
            plate_blocks.lift_block(uow, clock, ADMIN, 999_999, reason="无"),
            plate_blocks.BlockNotFoundError,
        )
        listed, _ = await plate_blocks.list_blocks(uow, ADMIN, lot_code="LOT-HOSP", active=True)
        block_row = await uow.lots.block((await uow.city.lot_by_code("LOT-HOSP")).id, "浙B30001")  # type: ignore[union-attr]
    assert [b.id for b in listed] == [everywhere.id]
    assert block_row is not None and block_row.id == everywhere.id  # what the lane sees
    assert await count(uow_factory, PlateBlockRow) == 2  # a lifted block is kept
    assert [(a, actor) for a, _, actor in await audit_actions(uow_factory, "plate_block.")] == [
        ("plate_block.add", "demo-cashier"),
        ("plate_block.add", "demo-admin"),
        ("plate_block.lift", "demo-admin"),
    ]


@pytest.mark.parametrize(
    ("lot", "changes", "message"),
    [
        ("LOT-HOSP", {"block_action": "refuse"}, "医院停车场不能因禁入名单拒绝入场，只能标记"),
        ("LOT-HOSP", {"arrears_action": "refuse"}, "医院停车场不能因欠费拒绝入场，只能标记"),
        ("LOT-HOSP", {"sold_spaces": 321}, "已售车位须在0至320之间（总车位320个）"),
        (
            "LOT-TIANYI",
            {"temporary_capacity": 1161},
            "临时车位数须在0至1160之间（总车位减已售车位）",
        ),
        ("LOT-TIANYI", {"min_confidence": 101}, "最低识别置信度须在0至100之间"),
        ("LOT-TIANYI", {"stale_after_hours": 0}, "超时复核小时数须在1至8760之间"),
        ("LOT-TIANYI", {"sold_spaces": 0}, "已登记业主车位1个，已售车位不能少于此数"),
    ],
)
async def test_bad_policies_are_refused_in_chinese_and_change_nothing(
    uow_factory: Factory, clock: FrozenClock, lot: str, changes: dict[str, Any], message: str
) -> None:
    async with uow_factory() as uow:
        before = await lot_policies.read_policy(uow, clock, ADMIN, lot)
        with pytest.raises(PolicyInvalidError) as caught:
            await lot_policies.update_policy(uow, clock, ADMIN, lot, changes, reason="调整")
    assert (caught.value.status, caught.value.message_zh) == (422, message)
    async with uow_factory() as uow:
        assert await lot_policies.read_policy(uow, clock, ADMIN, lot) == before
    assert await audit_actions(uow_factory, "lot_policy.") == []


async def test_a_policy_is_read_with_defaults_and_updated(
    uow_factory: Factory, clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        hospital = await lot_policies.read_policy(uow, clock, ADMIN, "LOT-HOSP")
    assert (hospital.own_row, hospital.values.block_action, hospital.hospital) == (
        False,
        "flag",
        True,
    )
    async with uow_factory() as uow:
        updated = await lot_policies.update_policy(
            uow,
            clock,
            ADMIN,
            "LOT-TIANYI",
            {"arrears_threshold_fen": 5000, "block_action": "flag", "temporary_capacity": 800},
            reason="节假日放宽",
        )
    assert (updated.values.arrears_threshold_fen, updated.values.block_action) == (5000, "flag")
    assert (updated.values.sold_spaces, updated.owned_spaces) == (40, 1)
    async with uow_factory() as uow:
        await refused(
            lot_policies.update_policy(
                uow, clock, HOSP_CASHIER, "LOT-TIANYI", {"min_confidence": 50}, reason="越权"
            ),
            OutOfScopeError,
        )
        link = await uow.session.scalar(
            select(AuditRow).where(AuditRow.action == "lot_policy.update")
        )
    assert link is not None and link.target == "lot:LOT-TIANYI"
    assert link.details["before"]["block_action"] == "refuse"
    assert link.details["after"]["temporary_capacity"] == 800


async def missed_exit(uow_factory: Factory, clock: FrozenClock, plate: str) -> tuple[str, str]:
    """A plate entered two hours ago and again now without an exit between: the first stay
    goes to review."""
    async with uow_factory() as uow:
        lot = await uow.city.lot_by_code("LOT-HOSP")
        assert lot is not None
        first = await open_lot_stay(
            uow, lot, None, None, Access.TEMPORARY, None, START - timedelta(hours=2), plate=plate
        )
        second = await open_lot_stay(
            uow, lot, None, None, Access.TEMPORARY, None, START, plate=plate
        )
        await uow.commit()
        return first.ref, second.ref


async def test_a_missed_exit_is_listed_and_closed_at_a_stated_time(
    uow_factory: Factory, clock: FrozenClock
) -> None:
    first, second = await missed_exit(uow_factory, clock, "浙B40001")
    clock.advance(timedelta(minutes=5))
    async with uow_factory() as uow:
        queue = await lot_review.review_queue(uow, clock, ADMIN, lot_code="LOT-HOSP")
    [item] = queue
    assert (item.stay_ref, item.why, item.later_stay_ref, item.plate) == (
        first,
        "missed_exit",
        second,
        "浙B40001",
    )
    calendar = OverridableCalendar()
    async with uow_factory() as uow:
        error = await refused(
            lot_review.close_at(
                uow, clock, calendar, ADMIN, first, START + timedelta(minutes=1), reason="看录像"
            ),
            lot_review.ExitTimeInvalidError,
        )
    assert (error.status, error.message_zh) == (422, "离场时间不能晚于该车下一次入场时间")
    async with uow_factory() as uow:
        done = await lot_review.close_at(
            uow, clock, calendar, ADMIN, first, START - timedelta(minutes=1), reason="看录像"
        )
    assert (done.status, done.fee_fen, done.due_fen) == ("closed", 600, 600)
    async with uow_factory() as uow:
        await refused(
            lot_review.close_at(uow, clock, calendar, ADMIN, first, START, reason="再来"),
            lot_review.NotInReviewError,
        )
        await refused(
            lot_review.dismiss(uow, clock, ADMIN, second, reason="重复"),
            lot_review.NotInReviewError,
        )
        owed = await uow.ledger.balance_fen("driver_receivable:浙B40001")
        debits = await uow.session.scalar(select(func.sum(LedgerPostingRow.debit_fen)))
        credits = await uow.session.scalar(select(func.sum(LedgerPostingRow.credit_fen)))
        assert await lot_review.review_queue(uow, clock, ADMIN) == []
    assert owed == 600 and debits == credits
    [(action, target, _)] = await audit_actions(uow_factory, "lot_stay.")
    assert (action, target) == ("lot_stay.close", f"stay:{first}")


async def test_close_free_and_dismiss(uow_factory: Factory, clock: FrozenClock) -> None:
    free, _ = await missed_exit(uow_factory, clock, "浙B40002")
    dup, _ = await missed_exit(uow_factory, clock, "浙B40003")
    async with uow_factory() as uow:
        outcome = await lot_review.close_free(uow, clock, HOSP_CASHIER, free, reason="急诊免费")
    assert (outcome.status, outcome.fee_fen, outcome.exited_at) == ("closed", 0, START)
    async with uow_factory() as uow:
        voided = await lot_review.dismiss(uow, clock, ADMIN, dup, reason="相机重复识别")
        stay = await uow.lot_admin.stay_by_ref(dup)
        owed = await uow.ledger.balance_fen("driver_receivable:浙B40002")
    assert voided.status == "void" and stay is not None and stay.status == "void"
    assert owed == 0
    async with uow_factory() as uow:
        await refused(
            lot_review.dismiss(uow, clock, ADMIN, "no-such-stay", reason="无"),
            lot_review.ReviewStayNotFoundError,
        )
    assert [a for a, _, _ in await audit_actions(uow_factory, "lot_stay.")] == [
        "lot_stay.close_free",
        "lot_stay.dismiss",
    ]


async def test_a_stale_open_stay_is_listed_and_a_fresh_one_is_not_reviewable(
    uow_factory: Factory, clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        lot = await uow.city.lot_by_code("LOT-HOSP")
        assert lot is not None
        old = await open_lot_stay(
            uow,
            lot,
            None,
            None,
            Access.TEMPORARY,
            None,
            START - timedelta(days=31),
            plate="浙B40004",
        )
        fresh = await open_lot_stay(
            uow, lot, None, None, Access.TEMPORARY, None, START, plate="浙B40005"
        )
        await uow.commit()
    async with uow_factory() as uow:
        [item] = await lot_review.review_queue(uow, clock, ADMIN)
        assert (item.stay_ref, item.why) == (old.ref, "stale_stay")
        await refused(
            lot_review.close_free(uow, clock, ADMIN, fresh.ref, reason="无"),
            lot_review.NotInReviewError,
        )
        status = await uow.session.scalar(select(StayRow.status).where(StayRow.ref == fresh.ref))
    assert status == "open"


async def test_two_desks_selling_the_same_plate_at_once_make_one_right(
    uow_factory: Factory, clock: FrozenClock
) -> None:
    outcomes = await asyncio.gather(
        create(uow_factory, clock, plates=["浙B20099"]),
        create(uow_factory, clock, plates=["浙B20099"]),
        return_exceptions=True,
    )
    made = [o for o in outcomes if isinstance(o, lot_rights.RightView)]
    overlaps = [o for o in outcomes if isinstance(o, lot_rights.RightOverlapError)]
    assert (len(made), len(overlaps)) == (1, 1), outcomes
    async with uow_factory() as uow:
        views, _ = await lot_rights.list_rights(uow, ADMIN, plate="浙B20099")
    assert [v.ref for v in views] == [made[0].ref]
