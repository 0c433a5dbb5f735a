"""Buyer titles: saved ones, and WeChat's own title picker where WeChat Pay invoices."""

from __future__ import annotations

import re
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from adapters.wechatpay_fapiao import WeChatPayFapiao
from core.errors import NotFoundError, ValidationFailedError
from core.invoices import (
    BuyerTitle,
    InvoiceKind,
    InvoiceProviderNotConfiguredError,
    TitleKind,
    check_title,
    new_invoice_no,
)
from core.payments import PaymentNotFoundError
from core.services.invoices import MAX_MERGED, check_request
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.invoicing import FAPIAO_KEY
from server.resources import clock, read_unit_of_work, unit_of_work

routes = ApiRoutes("miniprogram")


class TitleIn(BaseModel):
    """The buyer: a person, or a company with its 统一社会信用代码 (or old tax number)."""

    kind: Literal["personal", "company"]
    name: str = Field(min_length=1, max_length=100)
    tax_id: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=254, description="where the file is sent")

    def title(self) -> BuyerTitle:
        return BuyerTitle(TitleKind(self.kind), self.name, self.tax_id, self.email)


class TitleUrlIn(BaseModel):
    """The payments the title is for (one seller invoicing through WeChat Pay)."""

    out_trade_nos: list[str] = Field(min_length=1, max_length=MAX_MERGED)


class TitleUrlOut(BaseModel):
    """Open this page of WeChat's invoice mini-program (wx.navigateToMiniProgram)."""

    fapiao_apply_id: str
    miniprogram_appid: str
    miniprogram_path: str


class TitleOut(BaseModel):
    id: int
    kind: str
    name: str
    tax_id: str | None
    email: str | None


class TitlesOut(BaseModel):
    titles: list[TitleOut]


class RemovedOut(BaseModel):
    removed: bool


def fapiao(request: web.Request) -> WeChatPayFapiao:
    """WeChat Pay's fapiao adapter, or a 503 where WeChat Pay is not configured."""
    fapiao = request.config_dict.get(FAPIAO_KEY)
    if fapiao is None:
        raise InvoiceProviderNotConfiguredError(detail="WeChat Pay fapiao not configured")
    return fapiao


async def wechat_title(request: web.Request, out_trade_no: str, apply_id: str) -> BuyerTitle:
    """The title the driver chose in WeChat's picker for this application number."""
    async with read_unit_of_work(request) as uow:
        payment = await uow.payments.get(out_trade_no)
    if payment is None:
        raise PaymentNotFoundError(detail=out_trade_no)
    return await fapiao(request).user_title(apply_id, payment.sub_mchid)


@routes.route(
    "POST",
    "/me/invoices/title-url",
    "WeChat's own title picker for payments invoiced through WeChat Pay (driver token)",
    body=TitleUrlIn,
    response=TitleUrlOut,
)
async def title_url(request: web.Request, body: TitleUrlIn) -> web.Response:
    """Check the payments as a request would, reserve the application number, ask for the page."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        candidates = await check_request(uow, driver_id, list(dict.fromkeys(body.out_trade_nos)))
    if candidates[0].kind is InvoiceKind.FISCAL_RECEIPT:
        raise ValidationFailedError("财政电子票据不支持微信抬头选择", detail="out_trade_nos")
    payment = candidates[0].payment
    apply_id = new_invoice_no(clock(request).now())
    total = sum(c.amount_fen for c in candidates)
    page = await fapiao(request).title_url(
        apply_id, total, payment.payer_openid, payment.appid, payment.sub_mchid
    )
    return json_response(
        TitleUrlOut(
            fapiao_apply_id=apply_id,
            miniprogram_appid=page.get("miniprogram_appid", ""),
            miniprogram_path=page.get("miniprogram_path", ""),
        )
    )


async def save_title_for(request: web.Request, driver_id: int, title: BuyerTitle) -> int:
    """Save a checked title unless the driver has it already; its id."""
    async with unit_of_work(request) as uow:
        saved = await uow.invoices.titles(driver_id)
        for title_id, known in saved:
            if known == title:
                return title_id
        title_id = await uow.invoices.add_title(driver_id, title, clock(request).now())
        await uow.commit()
        return title_id


@routes.route("GET", "/me/invoice-titles", "The driver's saved buyer titles", response=TitlesOut)
async def my_titles(request: web.Request, _: None) -> web.Response:
    """List saved titles, oldest first."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        saved = await uow.invoices.titles(driver_id)
    return json_response(TitlesOut(titles=[_title_out(i, t) for i, t in saved]))


@routes.route(
    "POST", "/me/invoice-titles", "Save a buyer title for reuse", body=TitleIn, response=TitleOut
)
async def save_title(request: web.Request, body: TitleIn) -> web.Response:
    """Check the title (tax number with its check character) and save it."""
    driver_id = current_driver(request)
    title = check_title(body.title())
    title_id = await save_title_for(request, driver_id, title)
    return json_response(_title_out(title_id, title))


@routes.route(
    "DELETE", "/me/invoice-titles/{title_id}", "Forget a saved title", response=RemovedOut
)
async def remove_title(request: web.Request, _: None) -> web.Response:
    """Remove one of the driver's titles; another's or a missing one is not found."""
    driver_id = current_driver(request)
    raw = request.match_info["title_id"]
    title_id = int(raw) if re.fullmatch(r"[0-9]{1,9}", raw) else -1  # not "¹", which isdigit
    async with unit_of_work(request) as uow:
        removed = await uow.invoices.remove_title(driver_id, title_id)
        if not removed:
            raise NotFoundError("发票抬头不存在", detail=f"title {raw}")
        await uow.commit()
    return json_response(RemovedOut(removed=True))


def _title_out(title_id: int, title: BuyerTitle) -> TitleOut:
    return TitleOut(
        id=title_id, kind=title.kind.value, name=title.name, tax_id=title.tax_id, email=title.email
    )
