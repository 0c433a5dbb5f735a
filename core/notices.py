"""Notices to drivers about their plates: what a notice says and the SMS port."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.money import format_yuan

STAY_OPENED = "stay_opened"
STAY_FEE = "stay_fee"
ARREARS_REMINDER = "arrears_reminder"  # the same fields as STAY_FEE, with what is still due
APPEAL_OUTCOME = "appeal_outcome"  # support answered a fee appeal (docs/support-appeals.md)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """A text message to a phone; `template` names the approved SMS template."""

    phone: str
    template: str
    params: dict[str, str]


class SmsSender(Protocol):
    """Sends SMS through a provider (a signed, approved template, as Chinese carriers need)."""

    async def send(self, message: SmsMessage) -> bool:
        """Send; False when the provider refused it."""
        ...


def stay_opened_fields(body: dict[str, Any]) -> dict[str, str]:
    """The fields of a 'your car parked' notice, from the outbox body."""
    return {
        "plate": str(body["plate"]),
        "place": str(body["place"]),
        "entered_at": str(body["entered_at_local"]),
    }


def stay_fee_fields(body: dict[str, Any]) -> dict[str, str]:
    """The fields of a 'your car left; the fee is' notice, from the outbox body."""
    left = datetime.fromisoformat(str(body["exited_at"])).astimezone(SHANGHAI)
    return {
        "plate": str(body["plate"]),
        "place": str(body["berth"]),
        "exited_at": left.strftime("%Y-%m-%d %H:%M"),
        "fee": f"{format_yuan(int(body['fee_fen']))}元",
    }


def notice_fields(kind: str, body: dict[str, Any]) -> dict[str, str]:
    """The message fields of an outbox notice of any kind the sender knows."""
    if kind in (STAY_FEE, ARREARS_REMINDER):
        return stay_fee_fields(body)
    if kind == APPEAL_OUTCOME:
        return appeal_outcome_fields(body)
    return stay_opened_fields(body)


def appeal_outcome_fields(body: dict[str, Any]) -> dict[str, str]:
    """The fields of an 'your appeal was answered' notice, from the outbox body."""
    return {
        "plate": str(body.get("plate") or "-"),
        "outcome": str(body["outcome_zh"])[:20],
        "amount": f"{format_yuan(int(body.get('amount_fen') or 0))}元",
        "stay_ref": str(body.get("stay_ref") or "-"),
    }
