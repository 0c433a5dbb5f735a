"""Official Account webhook: WeChat's signature, safe-mode encryption, replies in Chinese."""

from __future__ import annotations

import logging
from xml.parsers.expat import ExpatError

from aiohttp import web
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
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


def _crypto(request: web.Request) -> WeChatCrypto | None:
    """The safe-mode cipher when WeChat says the body is encrypted (encrypt_type=aes)."""
    if request.query.get("encrypt_type", "raw") != "aes":
        return None
    settings = request.config_dict[SETTINGS_KEY]
    if not (settings.wechat_token and settings.wechat_aes_key and settings.wechat_appid):
        raise WeChatNotConfiguredError(detail="encrypted message without aes key or appid")
    try:
        return WeChatCrypto(
            settings.wechat_token, settings.wechat_aes_key.get_secret_value(), settings.wechat_appid
        )
    except ValueError:  # an EncodingAESKey that is not 43 base64 characters
        raise WeChatNotConfiguredError(detail="bad wechat_aes_key") from None


def _opened(request: web.Request, crypto: WeChatCrypto | None, body: str) -> str:
    """The message's XML: the body itself, or what its Encrypt element holds, checked."""
    if crypto is None:
        return body
    query = request.query
    try:
        return str(
            crypto.decrypt_message(
                body,
                query.get("msg_signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
            )
        )
    except (InvalidSignatureException, InvalidAppIdException):
        raise AuthenticationError("签名校验失败", detail="bad wechat msg_signature") from None
    except (ExpatError, KeyError, TypeError, ValueError):
        raise ValidationFailedError("消息格式不正确", detail="undecryptable wechat xml") from None


async def receive_message(request: web.Request) -> web.Response:
    """Reply to one message (plaintext or safe mode); a message we do not answer gets 'success'."""
    _verify(request)
    crypto = _crypto(request)
    try:
        message = parse_message(_opened(request, crypto, await request.text()))
    except (ExpatError, KeyError, TypeError):
        raise ValidationFailedError("消息格式不正确", detail="unparseable wechat xml") from None
    if message.type != "text":
        return web.Response(text="success")
    async with unit_of_work(request) as uow:
        text = await reply_to_text(uow, message.content)
    reply = create_reply(text, message).render()
    if crypto is not None:
        query = request.query
        reply = crypto.encrypt_message(reply, query.get("nonce", ""), query.get("timestamp"))
    return web.Response(body=reply, content_type="application/xml")


def install(app: web.Application) -> None:
    """Add the webhook routes."""
    app.router.add_get("/", confirm_server)
    app.router.add_post("/", receive_message)
