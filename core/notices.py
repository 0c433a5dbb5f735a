"""Notices to drivers about their plates: what a notice says and the SMS port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

STAY_OPENED = "stay_opened"


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
