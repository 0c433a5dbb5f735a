"""Every table, imported in one place so the metadata is complete."""

from core.store.activity import (
    AuditRow,
    DeviceEventRow,
    LedgerEntryRow,
    LedgerPostingRow,
    StayRow,
)
from core.store.appeals import AppealRow, ApprovalRow
from core.store.arrears import ArrearsActionRow
from core.store.auto_pay import AutoPayStepRow, CombinePartRow, PlateServiceRow, StayParkingRow
from core.store.base import Base
from core.store.chat import ChatHandoffRow, ChatMessageRow, ChatUserRow
from core.store.city import (
    BerthRow,
    DeviceRow,
    DistrictRow,
    HolidayOverrideRow,
    LaneRow,
    LotLevelRow,
    LotRow,
    OperatorRow,
    TariffRow,
    ZoneRow,
)
from core.store.devices import (
    BerthClosureRow,
    BerthObservationRow,
    BerthStateRow,
    DeviceHealthRow,
    MaintenanceTicketRow,
    NotificationRow,
    StayFlagRow,
    ViolationRow,
)
from core.store.driver_notices import NoticeDeliveryRow, SubscribeGrantRow
from core.store.handovers import HandoverBatchRow, HandoverLineRow
from core.store.invoices import InvoiceLineRow, InvoiceRow, InvoiceTitleRow
from core.store.job_runs import JobRunRow
from core.store.lane_outbox import LaneOutboxRow
from core.store.late_fees import LateFeeRuleRow
from core.store.lots import (
    AttendantTaskRow,
    CashierShiftRow,
    LanePassageRow,
    LotPolicyRow,
    LotRightPlateRow,
    LotRightRow,
    LotStayRow,
    MerchantRow,
    MerchantValidationRow,
    PlateBlockRow,
    ShiftTakingRow,
)
from core.store.network import (
    NetworkDeviceRow,
    NetworkKeyRow,
    NetworkLotRow,
    NetworkMessageRow,
    NetworkNonceRow,
    NetworkOutboxRow,
    NetworkSessionRow,
    NetworkSummaryRow,
)
from core.store.pass_sales import PassProductRow, RightOrderRow
from core.store.payments import PaymentRow, RefundRow
from core.store.people import (
    DriverOpenidRow,
    DriverRow,
    StaffRow,
    StaffScopeRow,
    VehicleBindingRow,
    VehicleRow,
)
from core.store.rollups import (
    ArrearsDayRow,
    DeviceDayRow,
    InvoiceDayRow,
    OccupancyHourRow,
    RevenueDayRow,
    ShiftDayRow,
)
from core.store.settlement import (
    ContractRow,
    ShareLineRow,
    ShareOrderRow,
    ShareReceiverRow,
    ShareReturnRow,
)
from core.store.signs import GuidanceSignRow
from core.store.write_offs import WriteOffRow

__all__ = [
    "AppealRow",
    "ApprovalRow",
    "ArrearsActionRow",
    "ArrearsDayRow",
    "AttendantTaskRow",
    "AuditRow",
    "AutoPayStepRow",
    "Base",
    "BerthClosureRow",
    "BerthObservationRow",
    "BerthRow",
    "BerthStateRow",
    "CashierShiftRow",
    "ChatHandoffRow",
    "ChatMessageRow",
    "ChatUserRow",
    "CombinePartRow",
    "ContractRow",
    "DeviceDayRow",
    "DeviceEventRow",
    "DeviceHealthRow",
    "DeviceRow",
    "DistrictRow",
    "DriverOpenidRow",
    "DriverRow",
    "GuidanceSignRow",
    "HandoverBatchRow",
    "HandoverLineRow",
    "HolidayOverrideRow",
    "InvoiceDayRow",
    "InvoiceLineRow",
    "InvoiceRow",
    "InvoiceTitleRow",
    "JobRunRow",
    "LaneOutboxRow",
    "LanePassageRow",
    "LaneRow",
    "LateFeeRuleRow",
    "LedgerEntryRow",
    "LedgerPostingRow",
    "LotLevelRow",
    "LotPolicyRow",
    "LotRightPlateRow",
    "LotRightRow",
    "LotRow",
    "LotStayRow",
    "MaintenanceTicketRow",
    "MerchantRow",
    "MerchantValidationRow",
    "NetworkDeviceRow",
    "NetworkKeyRow",
    "NetworkLotRow",
    "NetworkMessageRow",
    "NetworkNonceRow",
    "NetworkOutboxRow",
    "NetworkSessionRow",
    "NetworkSummaryRow",
    "NoticeDeliveryRow",
    "NotificationRow",
    "OccupancyHourRow",
    "OperatorRow",
    "PassProductRow",
    "PaymentRow",
    "PlateBlockRow",
    "PlateServiceRow",
    "RefundRow",
    "RevenueDayRow",
    "RightOrderRow",
    "ShareLineRow",
    "ShareOrderRow",
    "ShareReceiverRow",
    "ShareReturnRow",
    "ShiftDayRow",
    "ShiftTakingRow",
    "StaffRow",
    "StaffScopeRow",
    "StayFlagRow",
    "StayParkingRow",
    "StayRow",
    "SubscribeGrantRow",
    "TariffRow",
    "VehicleBindingRow",
    "VehicleRow",
    "ViolationRow",
    "WriteOffRow",
    "ZoneRow",
]
