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

    def plate(self, number: str, colour: str) -> PlateSetup:
        return self.plates.setdefault(f"{number}:{colour}", PlateSetup())
