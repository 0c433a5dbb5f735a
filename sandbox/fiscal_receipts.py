"""A fiscal e-receipt (财政电子票据) platform stand-in, served in-process only with the sandbox.

It keeps the standard's fields (票据代码, 票据号码, 校验码, 开票日期, 交款人, 项目, 金额, 收款单位),
issues a real PDF, reverses (冲红) and can be told to fail or lag.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from core.clock import Clock
from core.invoice_provider import InvoiceProviderError, ProviderReport, ProviderState
from core.invoices import Invoice, IssuedDocument
from sandbox.documents import text_pdf


@dataclass
class FiscalReceipt:
    """One receipt as the fiscal platform records it."""

    code: str  # 票据代码: 8 digits, region and kind
    number: str  # 票据号码: 10 digits
    check_code: str  # 校验码
    payer: str  # 交款人
    item: str  # 项目
    amount_fen: int  # 金额
    payee: str  # 收款单位
    issued_at_text: str  # 开票日期
    state: ProviderState = ProviderState.ISSUED
    lag: int = 0


@dataclass
class FiscalReceiptSandbox:
    """The InvoiceProvider of fiscal e-receipts in the sandbox."""

    clock: Clock
    base_url: str = "http://sandbox.local/fiscal"
    receipts: dict[str, FiscalReceipt] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    fail_next: list[str] = field(default_factory=list)
    lag_queries: int = 0

    async def issue(self, invoice: Invoice, payer_openid: str) -> ProviderReport:
        """Issue at once (or after `lag_queries` queries); the next `fail_next` reasons refuse."""
        if invoice.invoice_no not in self.receipts:
            if self.fail_next:
                return ProviderReport(ProviderState.FAILED, reason=self.fail_next.pop(0))
            now = self.clock.now()
            self.receipts[invoice.invoice_no] = FiscalReceipt(
                code="44010125",
                number=f"{secrets.randbelow(10**10):010d}",
                check_code=secrets.token_hex(3),
                payer=invoice.title.name,
                item="占道停车费",
                amount_fen=invoice.amount_fen,
                payee=invoice.operator_code,
                issued_at_text=f"{now:%Y-%m-%d}",
                state=ProviderState.ISSUING if self.lag_queries else ProviderState.ISSUED,
                lag=self.lag_queries,
            )
        return await self.query(invoice)

    async def query(self, invoice: Invoice) -> ProviderReport:
        """Where the receipt is."""
        receipt = self.receipts.get(invoice.invoice_no)
        if receipt is None:
            return ProviderReport(ProviderState.FAILED, reason="票据不存在")
        if receipt.state is ProviderState.ISSUING:
            receipt.lag -= 1
            if receipt.lag > 0:
                return ProviderReport(ProviderState.ISSUING)
            receipt.state = ProviderState.ISSUED
        if receipt.state is not ProviderState.ISSUED:
            return ProviderReport(receipt.state)
        self.files.setdefault(invoice.invoice_no, _pdf(receipt))
        document = IssuedDocument(
            receipt.code,
            receipt.number,
            receipt.check_code,
            f"{self.base_url}/{invoice.invoice_no}.pdf",
            self.clock.now(),
        )
        return ProviderReport(ProviderState.ISSUED, document)

    async def reverse(self, invoice: Invoice, reason: str) -> ProviderReport:
        """冲红: the receipt is void; a second call changes nothing."""
        receipt = self.receipts.get(invoice.invoice_no)
        if receipt is None or receipt.state is ProviderState.ISSUING:
            raise InvoiceProviderError(detail=f"{invoice.invoice_no} not issued")
        receipt.state = ProviderState.REVERSED
        return ProviderReport(ProviderState.REVERSED)

    async def download(self, invoice: Invoice) -> bytes:
        """The receipt's PDF."""
        found = self.files.get(invoice.invoice_no)
        if found is None:
            raise InvoiceProviderError(detail=f"no file for {invoice.invoice_no}")
        return found


def _pdf(receipt: FiscalReceipt) -> bytes:
    yuan = f"{receipt.amount_fen // 100}.{receipt.amount_fen % 100:02d}"
    return text_pdf(
        [
            "Sandbox fiscal e-receipt (cai zheng dian zi piao ju)",
            f"Code: {receipt.code}  Number: {receipt.number}  Check: {receipt.check_code}",
            f"Date: {receipt.issued_at_text}",
            f"Item: on-street parking fee  Amount: {yuan} CNY",
            f"Payee: {receipt.payee}",
        ]
    )
