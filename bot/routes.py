"""Official Account webhook: verifies WeChat's signature and answers drivers in Chinese."""

from __future__ import annotations

import logging
from xml.parsers.expat import ExpatError

from aiohttp import web
from wechatpy import create_reply, parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.replies import reply_to_text
from core.errors import AuthenticationError, DomainError, ValidationFailedError
from server.resources import SETTINGS_KEY, unit_of_work

log = logging.getLogger(__name__)


class WeChatNotConfiguredError(DomainError):
    """The Official Account token is not set."""

    code = "wechat_not_configured"
    status = 503
    message_zh = "公众号未配置"


def _verify(request: web.Request) -> None:
    token = request.config_dict[SETTINGS_KEY].wechat_token
    if not token:
        raise WeChatNotConfiguredError()
    query = request.query
    try:
        check_signature(
            token, query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
        )
    except InvalidSignatureException:
        raise AuthenticationError("签名校验失败", detail="bad wechat signature") from None


async def confirm_server(request: web.Request) -> web.Response:
    """Answer WeChat's URL check with the echostr."""
    _verify(request)
    return web.Response(text=request.query.get("echostr", ""))


async def receive_message(request: web.Request) -> web.Response:
    """Reply to one message; every failure still answers 'success' so WeChat does not retry."""
    _verify(request)
    try:
        message = parse_message(await request.text())
    except (ExpatError, KeyError, TypeError):
        raise ValidationFailedError("消息格式不正确", detail="unparseable wechat xml") from None
    if message.type != "text":
        return web.Response(text="success")
    async with unit_of_work(request) as uow:
        text = await reply_to_text(uow, message.content)
    reply = create_reply(text, message)
    return web.Response(body=reply.render(), content_type="application/xml")


def install(app: web.Application) -> None:
    """Add the webhook routes."""
    app.router.add_get("/", confirm_server)
    app.router.add_post("/", receive_message)
