"""Pure billing engine: tariffs, day calendars, rights and quotes in integer fen."""

from core.billing.day_calendar import ChineseDayCalendar, DayCalendar, DayType, FixedDayCalendar
from core.billing.errors import (
    BillingError,
    CalendarUnknownError,
    NaiveDatetimeError,
    RightError,
    StayError,
    TariffError,
    VehicleClassError,
)
from core.billing.lines import LineKind, PricedStay, QuoteContext, QuoteLine
from core.billing.local_time import SHANGHAI
from core.billing.pricing import quote, quote_lost_ticket, quote_stay
from core.billing.quote import Quote
from core.billing.rights import (
    CoveredInterval,
    DailyWindow,
    MonthlyPass,
    RightKind,
    SpecialPass,
    StoredValueSettlement,
    assign_shared_cover,
    clip_cover,
    merge_cover,
    pass_cover,
    settle_stored_value,
)
from core.billing.schedule import TariffSchedule, pick_version
from core.billing.tariff import (
    Band,
    CapPeriod,
    FirstUnitScope,
    FreePeriodSharing,
    PlateDayRules,
    PriceTable,
    ReviewLimits,
    Tariff,
    VehicleRules,
)
from core.billing.tariff_parser import load_tariff_file, parse_tariff

__all__ = [
    "SHANGHAI",
    "Band",
    "BillingError",
    "CalendarUnknownError",
    "CapPeriod",
    "ChineseDayCalendar",
    "CoveredInterval",
    "DailyWindow",
    "DayCalendar",
    "DayType",
    "FirstUnitScope",
    "FixedDayCalendar",
    "FreePeriodSharing",
    "LineKind",
    "MonthlyPass",
    "NaiveDatetimeError",
    "PlateDayRules",
    "PriceTable",
    "PricedStay",
    "Quote",
    "QuoteContext",
    "QuoteLine",
    "ReviewLimits",
    "RightError",
    "RightKind",
    "SpecialPass",
    "StayError",
    "StoredValueSettlement",
    "Tariff",
    "TariffError",
    "TariffSchedule",
    "VehicleClassError",
    "VehicleRules",
    "assign_shared_cover",
    "clip_cover",
    "load_tariff_file",
    "merge_cover",
    "parse_tariff",
    "pass_cover",
    "pick_version",
    "quote",
    "quote_lost_ticket",
    "quote_stay",
    "settle_stored_value",
]
