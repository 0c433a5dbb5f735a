"""Mail through an SMTP server (aiosmtplib)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from core.mail import MailError, OutgoingMail


class SmtpMail:
    """A MailSender for one SMTP server; STARTTLS and login when configured."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout

    async def send(self, mail: OutgoingMail) -> None:
        """Build the MIME message and send it in one SMTP session."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._sender, mail.to, mail.subject
        message.set_content(mail.text)
        main, _, sub = mail.attachment_type.partition("/")
        message.add_attachment(
            mail.attachment, maintype=main, subtype=sub, filename=mail.attachment_name
        )
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(detail=f"smtp {self._host}:{self._port}: {exc}") from exc
