"""WeChat's side of the Official Account webhook: pushes signed and encrypted as WeChat sends."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

ACCOUNT_ID = "gh_parking_oa"  # the account's original id, WeChat's ToUserName


def text_xml(openid: str, content: str, at: int, msg_id: int) -> str:
    """A text message from a follower."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{_cdata(content)}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def location_xml(openid: str, lat: float, lng: float, label: str, at: int, msg_id: int) -> str:
    """A location message (the "+" → 位置 of the chat)."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[location]]></MsgType><Location_X>{lat}</Location_X>"
        f"<Location_Y>{lng}</Location_Y><Scale>15</Scale>"
        f"<Label><![CDATA[{_cdata(label)}]]></Label><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, at: int, **fields: str | float) -> str:
    """An event push: subscribe, unsubscribe, SCAN, CLICK, VIEW, LOCATION with their fields."""
    extra = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )


def _cdata(text: str) -> str:
    return text.replace("]]>", "]]]]><![CDATA[>")


@dataclass(frozen=True, slots=True)
class Pusher:
    """Signs (and in safe mode encrypts) pushes for one account, and opens its replies."""

    token: str
    appid: str
    aes_key: str | None = None

    def push(self, xml: str, timestamp: int) -> tuple[dict[str, str], bytes]:
        """The query string and the body WeChat would POST for this message."""
        nonce = str(secrets.randbelow(10**9))
        stamp = str(timestamp)
        query = {
            "signature": _signature(self.token, stamp, nonce),
            "timestamp": stamp,
            "nonce": nonce,
        }
        if self.aes_key is None:
            return query, xml.encode()
        sealed = fromstring(
            WeChatCrypto(self.token, self.aes_key, self.appid).encrypt_message(xml, nonce, stamp)
        )
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{sealed.findtext('Encrypt')}]]></Encrypt></xml>"
        )
        query |= {"encrypt_type": "aes", "msg_signature": sealed.findtext("MsgSignature") or ""}
        return query, body.encode()

    def open(self, body: str) -> Any:
        """The reply message in a response body (decrypted and checked in safe mode)."""
        if self.aes_key is None:
            return parse_message(body)
        fields = fromstring(body)
        crypto = WeChatCrypto(self.token, self.aes_key, self.appid)
        return parse_message(
            crypto.decrypt_message(
                body,
                fields.findtext("MsgSignature") or "",
                fields.findtext("TimeStamp") or "",
                fields.findtext("Nonce") or "",
            )
        )


def _signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's URL signature: SHA-1 of the sorted token, timestamp and nonce."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
