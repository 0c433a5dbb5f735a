"""Builds the invoicing providers from what is configured and runs the issuing sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from adapters.smtp_mail import SmtpMail
from adapters.wechatpay_fapiao import WeChatPayFapiao
from core.errors import DomainError
from core.invoice_provider import InvoiceProvider, InvoiceProviders
from core.invoices import InvoiceKind
from core.mail import MailNotConfiguredError, MailSender
from core.services.invoice_sweep import sweep_invoices
from core.store.unit_of_work import UnitOfWork
from sandbox.fiscal_receipts import FiscalReceiptSandbox
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY
from server.wechat import WECHAT_SERVICES_KEY

log = logging.getLogger(__name__)

INVOICE_PROVIDERS_KEY = web.AppKey("invoice_providers", InvoiceProviders)
FAPIAO_KEY = web.AppKey("wechatpay_fapiao", WeChatPayFapiao)
FAPIAO_NOTIFY_PATH = "/mp/wechatpay/fapiao-notify"
MAIL_KEY = web.AppKey("mail", SmtpMail)


def mail_sender(request: web.Request) -> MailSender:
    """The configured mail server, or MailNotConfiguredError."""
    sender = request.config_dict.get(MAIL_KEY)
    if sender is None:
        raise MailNotConfiguredError(detail="PARKING_SMTP_HOST not set")
    return sender


FISCAL_SANDBOX_KEY = web.AppKey("fiscal_sandbox", FiscalReceiptSandbox)


def invoice_providers(request: web.Request) -> InvoiceProviders:
    """The configured providers; with none, every kind answers 503 invoicing_not_configured."""
    return request.config_dict.get(INVOICE_PROVIDERS_KEY) or InvoiceProviders()


async def invoicing_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after wechat_services): the providers and the sweep's task."""
    settings, clock = app[SETTINGS_KEY], app[CLOCK_KEY]
    by_kind: dict[InvoiceKind, InvoiceProvider] = {}
    tasks: list[asyncio.Task[None]] = []
    services = app.get(WECHAT_SERVICES_KEY)
    if services is not None:
        fapiao = WeChatPayFapiao(services.gateway)
        app[FAPIAO_KEY] = fapiao
        by_kind[InvoiceKind.DIGITAL_VAT] = by_kind[InvoiceKind.PREPAID] = fapiao
        callback = services.setup.notify_url.split("/mp/", 1)[0] + FAPIAO_NOTIFY_PATH
        tasks.append(asyncio.create_task(_register_callback(fapiao, callback)))
    if settings.wechat_sandbox:
        # No fiscal platform is integrated yet: only the sandbox issues fiscal e-receipts.
        fiscal = FiscalReceiptSandbox(clock)
        app[FISCAL_SANDBOX_KEY] = fiscal
        by_kind[InvoiceKind.FISCAL_RECEIPT] = fiscal
    providers = InvoiceProviders(by_kind)
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        app[MAIL_KEY] = SmtpMail(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_sender,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
        )
    app[INVOICE_PROVIDERS_KEY] = providers
    if by_kind and settings.invoices_sweep_seconds > 0:
        every = settings.invoices_sweep_seconds
        tasks.append(asyncio.create_task(_sweep_forever(app, providers, every)))
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _register_callback(fapiao: WeChatPayFapiao, url: str) -> None:
    """Tell WeChat Pay where FAPIAO.* notifies go; without it the sweep still polls."""
    try:
        await fapiao.set_callback(url)
    except DomainError as exc:
        log.warning("fapiao callback %s not registered: %s %s", url, exc.code, exc.detail)


async def _sweep_forever(app: web.Application, providers: InvoiceProviders, every: float) -> None:
    database, clock = app[DATABASE_KEY], app[CLOCK_KEY]
    while True:
        await asyncio.sleep(every)
        try:
            await sweep_invoices(lambda: UnitOfWork(database.sessions), clock, providers)
        except Exception:  # one bad round (database or provider down) must not end the loop
            log.exception("invoice sweep failed; trying again in %s s", every)
