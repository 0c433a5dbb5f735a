"""What stands in where no vehicle register or SMS provider is connected: refusals, never fakes."""

from __future__ import annotations

import logging

from core.notices import SmsMessage
from core.vehicles import LicenceCheckUnavailableError, LicenceClaim

log = logging.getLogger(__name__)


class NoLicenceRegister:
    """Every 行驶证 check answers that the register is unavailable (paying still verifies)."""

    async def verify(self, claim: LicenceClaim) -> bool:
        """Refuse: nothing can be checked."""
        raise LicenceCheckUnavailableError(detail="no vehicle register is configured")


class NoSms:
    """Sends nothing and says so, so a notice is never marked sent by text."""

    async def send(self, message: SmsMessage) -> bool:
        """Not sent."""
        log.warning("no SMS provider is configured: %s not sent", message.template)
        return False
