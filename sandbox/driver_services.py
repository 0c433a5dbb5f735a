"""Local stand-ins of the vehicle register (行驶证 check) and of an SMS provider."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from core.notices import SmsMessage
from core.vehicles import LicenceClaim, with_check_digit

log = logging.getLogger(__name__)

# Plates the simulator turns auto-deduct on for (`parking simulate --auto-deduct-share`).
AUTO_DEDUCT_PLATES = tuple(f"浙BW{n:04d}" for n in range(1, 41))
# Plates of the demo city the stand-in register knows: plate -> (VIN, registered owner).
DEMO_REGISTER: dict[str, tuple[str, str]] = {
    "浙B12345": ("LSVAU218XN2183294", "李雷"),
    "浙BD12345": ("LFV3A21K4L3001234", "韩梅梅"),
    **{
        plate: (with_check_digit(f"LSVAW2180R{n:07d}"), f"无感车主{n}")
        for n, plate in enumerate(AUTO_DEDUCT_PLATES, start=1)
    },
}


@dataclass
class SandboxRegister:
    """Answers 行驶证 checks from a table, as the vehicle register would."""

    records: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(DEMO_REGISTER))

    async def verify(self, claim: LicenceClaim) -> bool:
        """Whether the plate is registered with this VIN and owner."""
        record = self.records.get(claim.plate.number)
        return record is not None and record == (claim.vin, claim.owner_name.strip())


@dataclass
class SandboxSms:
    """Keeps the texts it is asked to send, and refuses phones that are not 11 digits."""

    sent: list[SmsMessage] = field(default_factory=list)

    async def send(self, message: SmsMessage) -> bool:
        """Record the message as sent."""
        if len(message.phone) != 11 or not message.phone.isdigit():
            return False
        self.sent.append(message)
        log.info("sandbox SMS %s to %s******", message.template, message.phone[:3])
        return True
