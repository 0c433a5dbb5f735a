"""The sandbox's parking service records: plates' authorisation, entries, combined orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.wechatpay.orders import Order


@dataclass(slots=True)
class PlateSetup:
    """How the sandbox treats a plate: its service state and how its deductions end."""

    state: str = "OUT_SERVICE"
    openid: str = ""
    deduction: str = "SUCCESS"  # SUCCESS or PAY_FAIL when completed
    opened_at: datetime | None = None
    auto_complete: bool = True  # completed by itself after the delay (when the desk has one)
    delay_seconds: float | None = None  # None: the desk's delay


@dataclass(slots=True)
class Entry:
    """A parking entry (停车入场) as WeChat Pay keeps it."""

    id: str
    request: dict[str, Any]
    state: str
    block_reason: str | None

    def view(self) -> dict[str, Any]:
        body = {k: v for k, v in self.request.items() if k not in ("notify_url", "sub_mchid")}
        body.update(id=self.id, state=self.state)
        if self.block_reason:
            body["block_reason"] = self.block_reason
        return body


@dataclass(slots=True)
class Combine:
    """A combined order: sub-orders, each an ordinary order of its own sub-merchant."""

    combine_out_trade_no: str
    combine_appid: str
    notify_url: str
    openid: str
    prepay_id: str
    orders: list[Order]


@dataclass
class ParkingDesk:
    """The parking service's and the combined orders' sandbox state."""

    plates: dict[str, PlateSetup] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    combines: dict[str, Combine] = field(default_factory=dict)
    parking_orders: dict[str, Order] = field(default_factory=dict)
    # Seconds after which an accepted deduction completes by itself (`make run`); None: never,
    # the /sandbox/ route completes it (tests).
    auto_complete_after: float | None = None
    outage_calls: int = 0  # the next this many parking-service calls answer 500 SYSTEM_ERROR

    def plate(self, number: str, colour: str) -> PlateSetup:
        return self.plates.setdefault(f"{number}:{colour}", PlateSetup())

    def completes_after(self, setup: PlateSetup) -> float | None:
        """When a deduction of this plate completes by itself, or None."""
        if not setup.auto_complete or self.auto_complete_after is None:
            return None
        return self.auto_complete_after if setup.delay_seconds is None else setup.delay_seconds
