"""The unit of work: one transaction per request or device event; only it commits."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.store.appeal_repository import AppealRepository
from core.store.arrears_repository import ArrearsRepository
from core.store.audit_repository import AuditRepository
from core.store.auto_pay import AutoPayRepository
from core.store.berth_batch_repository import BerthBatchRepository
from core.store.chat_repository import ChatRepository
from core.store.conflicts import StoreConflictError
from core.store.database import READ_ONLY_OPTION
from core.store.device_ops_repository import DeviceOpsRepository
from core.store.driver_repository import DriverRepository
from core.store.handovers import HandoverRepository
from core.store.invoices import InvoiceRepository
from core.store.job_runs import JobRunRepository
from core.store.lane_read_repository import LaneReadRepository
from core.store.late_fees import LateFeeRepository
from core.store.lot_admin_repository import LotAdminRepository
from core.store.lot_repository import LotRepository
from core.store.network_repository import NetworkRepository
from core.store.onstreet_repository import OnStreetRepository
from core.store.operations_repository import OperationsRepository
from core.store.pass_sales import PassSalesRepository
from core.store.payments import PaymentRepository
from core.store.place_repository import PlaceRepository
from core.store.report_repository import ReportRepository
from core.store.repositories import (
    CalendarRepository,
    CityRepository,
    DeviceEventRepository,
    LedgerRepository,
    StayRepository,
    TariffRepository,
)
from core.store.rollup_repository import RollupRepository
from core.store.settlement_repository import SettlementRepository
from core.store.sign_repository import SignRepository
from core.store.staff_repository import StaffRepository
from core.store.support_repository import SupportRepository
from core.store.vehicle_repository import VehicleRepository
from core.store.write_batch import last_writes, left_unchanged
from core.store.write_offs import WriteOffRepository

__all__ = ["StoreConflictError", "UnitOfWork"]


_READ_ONLY: WeakKeyDictionary[async_sessionmaker[AsyncSession], AsyncEngine] = WeakKeyDictionary()


def _read_only(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The sessions' engine with the read-only option on every connection it hands out."""
    found = _READ_ONLY.get(sessions)
    if found is None:
        engine = sessions.kw["bind"]
        found = _READ_ONLY[sessions] = engine.execution_options(**{READ_ONLY_OPTION: True})
    return found


class UnitOfWork:
    """Opens a session, hands out repositories and commits once, at the end."""

    session: AsyncSession
    city: CityRepository
    calendar: CalendarRepository
    tariffs: TariffRepository
    stays: StayRepository
    events: DeviceEventRepository
    ledger: LedgerRepository
    staff: StaffRepository
    audit: AuditRepository
    arrears: ArrearsRepository
    onstreet: OnStreetRepository
    berth_batch: BerthBatchRepository
    device_ops: DeviceOpsRepository
    drivers: DriverRepository
    payments: PaymentRepository
    pass_sales: PassSalesRepository
    lots: LotRepository
    lot_admin: LotAdminRepository
    lane_reads: LaneReadRepository
    vehicles: VehicleRepository
    places: PlaceRepository
    chat: ChatRepository
    support: SupportRepository
    appeals: AppealRepository
    auto_pay: AutoPayRepository
    network: NetworkRepository
    invoices: InvoiceRepository
    signs: SignRepository
    settlement: SettlementRepository
    write_offs: WriteOffRepository
    late_fees: LateFeeRepository
    handovers: HandoverRepository
    operations: OperationsRepository
    jobs: JobRunRepository
    rollups: RollupRepository
    reports: ReportRepository

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, read_only: bool = False
    ) -> None:
        self._sessions = sessions
        self._read_only = read_only
        self._left: list[Any] = []  # rows a commit inserted and left out of the session

    async def __aenter__(self) -> UnitOfWork:
        # Read-only: its connection begins a plain BEGIN on SQLite (readers do not queue for the
        # one write lock; WAL lets them read beside a writer; core/store/database.py), and only
        # when a first statement needs it, so an answer served from memory costs no round trip.
        bind = _read_only(self._sessions) if self._read_only else None
        self.session = self._sessions(bind=bind) if bind is not None else self._sessions()
        self.city = CityRepository(self.session)
        self.calendar = CalendarRepository(self.session)
        self.tariffs = TariffRepository(self.session)
        self.stays = StayRepository(self.session)
        self.events = DeviceEventRepository(self.session)
        self.ledger = LedgerRepository(self.session)
        self.staff = StaffRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.arrears = ArrearsRepository(self.session)
        self.onstreet = OnStreetRepository(self.session)
        self.berth_batch = BerthBatchRepository(self.session)
        self.device_ops = DeviceOpsRepository(self.session)
        self.drivers = DriverRepository(self.session)
        self.payments = PaymentRepository(self.session)
        self.pass_sales = PassSalesRepository(self.session)
        self.lots = LotRepository(self.session)
        self.lot_admin = LotAdminRepository(self.session)
        self.lane_reads = LaneReadRepository(self.session)
        self.vehicles = VehicleRepository(self.session)
        self.places = PlaceRepository(self.session)
        self.chat = ChatRepository(self.session)
        self.support = SupportRepository(self.session)
        self.appeals = AppealRepository(self.session)
        self.auto_pay = AutoPayRepository(self.session)
        self.network = NetworkRepository(self.session)
        self.invoices = InvoiceRepository(self.session)
        self.signs = SignRepository(self.session)
        self.settlement = SettlementRepository(self.session, self.payments)
        self.write_offs = WriteOffRepository(self.session)
        self.late_fees = LateFeeRepository(self.session)
        self.handovers = HandoverRepository(self.session)
        self.operations = OperationsRepository(self.session)
        self.jobs = JobRunRepository(self.session)
        self.rollups = RollupRepository(self.session)
        self.reports = ReportRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing discards anything not committed, so a failed request changes nothing;
        # unlike rollback() it leaves loaded rows readable for building the response.
        await self.session.close()

    async def commit(self) -> None:
        """Make every change of this unit durable; a broken unique rule is a conflict."""
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        left_unchanged(self._left)  # a change to one would be lost: refuse before committing
        # A conflict here rolls back and is raised as such. The rows it inserts stay out of
        # the session: nothing reads them from it before the unit closes.
        self._left += await last_writes(self.session)
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            raise StoreConflictError(detail=str(exc.orig)) from exc

    async def rollback(self) -> None:
        """Discard every change of this unit."""
        await self.session.rollback()
