"""Every table, imported in one place so the metadata is complete."""

from core.store.activity import (
    AuditRow,
    DeviceEventRow,
    LedgerEntryRow,
    LedgerPostingRow,
    StayRow,
)
from core.store.base import Base
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
from core.store.people import (
    DriverOpenidRow,
    DriverRow,
    StaffRow,
    StaffScopeRow,
    VehicleBindingRow,
    VehicleRow,
)

__all__ = [
    "AuditRow",
    "Base",
    "BerthRow",
    "DeviceEventRow",
    "DeviceRow",
    "DistrictRow",
    "DriverOpenidRow",
    "DriverRow",
    "HolidayOverrideRow",
    "LaneRow",
    "LedgerEntryRow",
    "LedgerPostingRow",
    "LotLevelRow",
    "LotRow",
    "OperatorRow",
    "StaffRow",
    "StaffScopeRow",
    "StayRow",
    "TariffRow",
    "VehicleBindingRow",
    "VehicleRow",
    "ZoneRow",
]
