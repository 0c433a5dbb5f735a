"""The port to whoever issues invoices: WeChat Pay's fapiao, a tax platform or a fiscal platform."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from core.errors import DomainError
from core.invoices import (
    Invoice,
    InvoiceKind,
    InvoiceProviderNotConfiguredError,
    IssuedDocument,
)


class ProviderState(StrEnum):
    """Where the provider says an application is."""

    ISSUING = "issuing"
    ISSUED = "issued"
    FAILED = "failed"
    REVERSING = "reversing"
    REVERSED = "reversed"


@dataclass(frozen=True, slots=True)
class ProviderReport:
    """The provider's view of one application."""

    state: ProviderState
    document: IssuedDocument | None = None
    reason: str = ""


class InvoiceProviderError(DomainError):
    """The provider could not be reached or answered with a fault; try again later."""

    code = "invoicing_unavailable"
    status = 502
    message_zh = "开票服务暂时不可用，请稍后再试"


class InvoiceProvider(Protocol):
    """Issues, queries and reverses one kind of document for the payments' sellers."""

    async def issue(self, invoice: Invoice, payer_openid: str) -> ProviderReport:
        """Apply for the document; idempotent on invoice.invoice_no."""
        ...

    async def query(self, invoice: Invoice) -> ProviderReport:
        """Where the application is."""
        ...

    async def reverse(self, invoice: Invoice, reason: str) -> ProviderReport:
        """Red-letter reversal (红冲) of an issued document; idempotent."""
        ...

    async def download(self, invoice: Invoice) -> bytes:
        """The issued document's file (PDF)."""
        ...


@dataclass(frozen=True, slots=True)
class InvoiceProviders:
    """The provider of each document kind this deployment has; a missing one answers 503."""

    by_kind: Mapping[InvoiceKind, InvoiceProvider] = field(default_factory=dict)

    def for_kind(self, kind: InvoiceKind) -> InvoiceProvider:
        """The provider issuing this kind, or InvoiceProviderNotConfiguredError."""
        provider = self.by_kind.get(kind)
        if provider is None:
            raise InvoiceProviderNotConfiguredError(detail=f"no provider for {kind.value}")
        return provider
