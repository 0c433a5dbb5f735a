"""The port to an outgoing mail server: invoice files sent to the buyer's address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.errors import DomainError


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """One message with one attachment."""

    to: str
    subject: str
    text: str
    attachment_name: str
    attachment: bytes
    attachment_type: str = "application/pdf"


class MailNotConfiguredError(DomainError):
    """No mail server is configured."""

    code = "mail_not_configured"
    status = 503
    message_zh = "邮件发送暂未开通，请下载后自行保存"


class MailError(DomainError):
    """The mail server could not be reached or refused the message."""

    code = "mail_unavailable"
    status = 502
    message_zh = "邮件发送失败，请稍后再试"


class MailSender(Protocol):
    """Sends mail; MailError when it cannot."""

    async def send(self, mail: OutgoingMail) -> None:
        """Hand the message to the mail server."""
        ...
