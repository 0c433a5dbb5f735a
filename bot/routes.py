"""Official Account webhook: signature, safe mode, hostile XML refused, 5-second replies."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from aiohttp import web
from aiohttp.helpers import ChainMapProxy
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TransferCustomerServiceReply
from wechatpy.utils import check_signature

from bot.conversation import answer_text
from bot.events import answer_event, location_message, opens_window
from bot.services import BOT_KEY, AccountConfig, BotServices
from bot.turn import Turn
from core.errors import AuthenticationError, DomainError, ValidationFailedError
from core.services.chat import ChatIdentity, identify, send_later
from core.services.support import driver_wrote
from core.store.unit_of_work import UnitOfWork
from core.wechat_messages import check_message_time
from server.resources import CALENDAR_KEY, CLOCK_KEY, DATABASE_KEY

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
ANSWERED = ("text", "location", "event", "image", "voice", "video", "shortvideo", "link")
NEEDED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
NOT_READ = "收到啦。我目前能看懂文字和位置消息，发送“帮助”看看我能做什么。"
TROUBLE = "系统繁忙，请稍后再试，或回复“人工”联系客服。"


class WeChatNotConfiguredError(DomainError):
    """The Official Account token is not set."""

    code = "wechat_not_configured"
    status = 503
    message_zh = "公众号未配置"


def _services(request: web.Request) -> BotServices:
    return request.config_dict[BOT_KEY]


def _verify(request: web.Request, account: AccountConfig) -> None:
    if not account.token:
        raise WeChatNotConfiguredError()
    query = request.query
    try:
        check_signature(
            account.token,
            query.get("signature", ""),
            query.get("timestamp", ""),
            query.get("nonce", ""),
        )
    except InvalidSignatureException:
        raise AuthenticationError("签名校验失败", detail="bad wechat signature") from None
    # A signature never expires, so an old signed push replayed is refused by its timestamp.
    check_message_time(query.get("timestamp", ""), request.config_dict[CLOCK_KEY].now())


async def confirm_server(request: web.Request) -> web.Response:
    """Answer WeChat's URL check with the echostr."""
    _verify(request, _services(request).account)
    return web.Response(text=request.query.get("echostr", ""))


def _crypto(request: web.Request, account: AccountConfig) -> WeChatCrypto | None:
    """The safe-mode cipher when WeChat says the body is encrypted (encrypt_type=aes)."""
    if request.query.get("encrypt_type", "raw") != "aes":
        return None
    if not (account.token and account.aes_key and account.appid):
        raise WeChatNotConfiguredError(detail="encrypted message without aes key or appid")
    try:
        return WeChatCrypto(account.token, account.aes_key, account.appid)
    except ValueError:  # an EncodingAESKey that is not 43 base64 characters
        raise WeChatNotConfiguredError(detail="bad wechat_aes_key") from None


def safe_xml(body: str) -> Element:
    """The XML tree, refusing DTDs, entities and external references (bombs, XXE)."""
    try:
        tree: Element = fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise ValidationFailedError("消息格式不正确", detail=f"refused xml: {exc!r}") from None
    return tree


def _opened(request: web.Request, crypto: WeChatCrypto | None, body: str) -> str:
    """The message's XML: the body itself, or what its Encrypt element holds, checked."""
    outer = safe_xml(body)
    if crypto is None:
        return body
    encrypted = outer.findtext("Encrypt")
    if not encrypted:
        raise ValidationFailedError("消息格式不正确", detail="no Encrypt element")
    query = request.query
    try:
        return str(
            crypto.decrypt_message(
                {"Encrypt": encrypted},
                query.get("msg_signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
            )
        )
    except (InvalidSignatureException, InvalidAppIdException):
        raise AuthenticationError("签名校验失败", detail="bad wechat msg_signature") from None
    except (KeyError, TypeError, ValueError, UnicodeDecodeError):
        raise ValidationFailedError("消息格式不正确", detail="undecryptable wechat xml") from None


def _message(xml: str) -> Any:
    """The wechatpy message of a checked XML; a half message is refused."""
    tree = safe_xml(xml)
    if tree.tag != "xml" or any(not (tree.findtext(name) or "").strip() for name in NEEDED):
        raise ValidationFailedError("消息格式不正确", detail="wechat xml misses a field")
    try:
        return parse_message(xml)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValidationFailedError("消息格式不正确", detail="unparseable wechat xml") from None


async def receive_message(request: web.Request) -> web.Response:
    """Reply to one message (plaintext or safe mode) within WeChat's 5 seconds."""
    services = _services(request)
    _verify(request, services.account)
    crypto = _crypto(request, services.account)
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY, len(raw))
    try:
        body = raw.decode()
    except UnicodeDecodeError:
        raise ValidationFailedError("消息格式不正确", detail="body not utf-8") from None
    message = _message(_opened(request, crypto, body))
    if message.type not in ANSWERED:
        return web.Response(text="success")  # a type we do not read is acknowledged, unread
    text = await _within_budget(request.config_dict, services, message)
    if text is None:
        return web.Response(text="success")
    if isinstance(text, HandToWeChat):
        reply = TransferCustomerServiceReply(message=message).render()
    else:
        reply = create_reply(text, message).render()
    if crypto is not None:
        query = request.query
        reply = crypto.encrypt_message(reply, query.get("nonce", ""), query.get("timestamp"))
    return web.Response(body=reply, content_type="application/xml")


async def _within_budget(app: ChainMapProxy, services: BotServices, message: Any) -> str | None:
    """The answer if it is ready in time; else 'success' now and a customer-service message."""
    task = asyncio.create_task(answer(app, services, message))
    try:
        return await asyncio.wait_for(asyncio.shield(task), services.reply_seconds)
    except TimeoutError:
        log.warning(
            "bot reply over %.1f s; sending it as a customer-service message",
            services.reply_seconds,
        )
        services.background.add(task)
        task.add_done_callback(lambda done: _send_late(app, services, message, done))
        return None


def _send_late(
    app: ChainMapProxy, services: BotServices, message: Any, done: asyncio.Task[str | None]
) -> None:
    services.background.discard(done)
    if done.cancelled() or done.exception() is not None or not done.result():
        return
    sending = asyncio.ensure_future(_deliver(app, services, message.source, done.result() or ""))
    services.background.add(sending)
    sending.add_done_callback(services.background.discard)


async def _deliver(app: ChainMapProxy, services: BotServices, openid: str, text: str) -> None:
    if services.client is None:
        return
    identity = ChatIdentity(services.account.appid or "", openid, None)
    try:
        async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
            await send_later(uow, app[CLOCK_KEY], services.client, identity, text)
    except DomainError as exc:
        log.warning("late bot reply not sent: %s", exc.detail or exc.code)


async def answer(app: ChainMapProxy, services: BotServices, message: Any) -> str | None:
    """What the bot says to one message or event (None: nothing), remembering the turn."""
    clock = app[CLOCK_KEY]
    async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
        identity = await identify(
            uow,
            clock,
            services.account.appid or "",
            services.client,
            str(message.source),
            wrote=opens_window(message),
        )
        key = f"{identity.appid}:{identity.openid}"
        turn = Turn(
            uow, clock, app[CALENDAR_KEY], identity, await services.states.load(key), services.setup
        )
        try:
            text = await _support_first(turn, message)
        except DomainError as exc:
            await uow.rollback()
            log.info("bot answered a domain error %s", exc.code)
            text = exc.message_zh
        except Exception:  # the driver gets a sentence, never silence or a 500
            await uow.rollback()
            log.exception("bot failed on a %s message", message.type)
            text = TROUBLE
        await services.states.save(key, turn.state)
    return text


def _said(message: Any) -> str:
    """What a driver's message says, as an agent reads it."""
    if message.type == "text":
        return str(message.content or "")
    if message.type == "location":
        return f"[位置] {message.label or ''} {message.location_x},{message.location_y}"
    if message.type == "image":
        return f"[图片] {message.image}"
    return f"[{message.type}]"


async def _support_first(turn: Turn, message: Any) -> str | None:
    """A conversation an agent holds keeps the bot silent; otherwise the bot answers."""
    ports = turn.setup.support()
    note = None
    if ports is not None and message.type != "event":
        seen = await driver_wrote(
            turn.uow, turn.clock, ports, turn.identity, message.type, _said(message)
        )
        if seen.handled:
            return seen.reply
        note = seen.note
    text = await _dispatch(turn, message)
    if turn.notes.get("transfer"):
        return HandToWeChat(text or "")
    return f"{note}\n{text}" if note and text else text


class HandToWeChat(str):
    """An answer that hands the conversation to WeChat's own customer service."""

    __slots__ = ()


async def _dispatch(turn: Turn, message: Any) -> str | None:
    if message.type == "text":
        return await answer_text(turn, str(message.content or ""))
    if message.type == "location":
        return await location_message(
            turn, float(message.location_x), float(message.location_y), message.label
        )
    if message.type == "event":
        return await answer_event(turn, message)
    return NOT_READ


def install(app: web.Application) -> None:
    """Add the webhook routes."""
    app.router.add_get("/", confirm_server)
    app.router.add_post("/", receive_message)
