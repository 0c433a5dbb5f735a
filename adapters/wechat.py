"""The mini-program ports (login, phone, subscribe messages) on WeChat's API through wechatpy."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from adapters.call_metrics import ExternalCall
from core.drivers import (
    DriverMessage,
    MiniProgramSession,
    WeChatLoginError,
    WeChatUnavailableError,
)
from core.notices import APPEAL_OUTCOME, ARREARS_REMINDER, STAY_FEE, STAY_OPENED
from core.services.refunds import DUPLICATE_REFUNDED

log = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://api.weixin.qq.com"
# WeChat answers these errcodes for a wx.login / getPhoneNumber code that is not valid.
_BAD_CODE = {40029, 40163, 40226, 45011}
_NO_AUTHORISATION = 43101
# Our message fields -> the keywords of the subscribe template chosen for each kind. The
# template (e.g. 退款通知) must have these keywords in this order in the WeChat console.
TEMPLATE_KEYWORDS: dict[str, dict[str, str]] = {
    DUPLICATE_REFUNDED: {
        "amount": "amount1",
        "plate": "car_number2",
        "reason": "thing3",
        "out_trade_no": "character_string4",
    },
    STAY_OPENED: {"plate": "car_number1", "place": "thing2", "entered_at": "time3"},
    STAY_FEE: {"plate": "car_number1", "place": "thing2", "exited_at": "time3", "fee": "amount4"},
    ARREARS_REMINDER: {
        "plate": "car_number1",
        "place": "thing2",
        "exited_at": "time3",
        "fee": "amount4",
    },
    APPEAL_OUTCOME: {
        "plate": "car_number1",
        "outcome": "thing2",
        "amount": "amount3",
        "stay_ref": "character_string4",
    },
}


class WeChatApiClient(WeChatClient):  # type: ignore[misc]  # wechatpy has no type hints
    """wechatpy's client with every API URL on a configurable base (the sandbox or WeChat)."""

    def __init__(self, appid: str, secret: str, base_url: str, timeout: float) -> None:
        super().__init__(appid, secret, timeout=timeout)
        base = base_url.rstrip("/")
        # wechatpy keeps its API roots in class attributes and hard-codes the token URL;
        # instance values override both without changing any request it builds.
        self.API_BASE_URL = f"{base}/cgi-bin/"
        self.wxa.API_BASE_URL = f"{base}/"
        self.base_url = base

    def fetch_access_token(self) -> Any:
        """GET /cgi-bin/token on the configured base."""
        return self._fetch_access_token(
            url=f"{self.base_url}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


async def run_wechatpy(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking wechatpy call in a worker thread, timed as one WeChat call."""
    # wechatpy is blocking (requests); a worker thread keeps the event loop serving.
    with ExternalCall("wechat", getattr(call, "__qualname__", "call")) as timed:
        try:
            result = await asyncio.to_thread(call, *args, **kwargs)
        except WeChatClientException:
            timed.outcome = "rejected"  # WeChat answered, with an errcode
            raise
        timed.outcome = "ok"
        return result


class MiniProgramClient:
    """code2session, getuserphonenumber and subscribe messages of one mini-program."""

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base_url: str = PRODUCTION_BASE_URL,
        templates: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.appid = appid
        self._api = WeChatApiClient(appid, secret, base_url, timeout)
        self._templates = dict(templates or {})

    async def _run(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_wechatpy(call, *args, **kwargs)
        except requests.RequestException as exc:
            raise WeChatUnavailableError(detail=f"wechat: {exc!r}") from exc

    async def code_to_session(self, code: str) -> MiniProgramSession:
        """GET /sns/jscode2session."""
        try:
            result = await self._run(self._api.wxa.code_to_session, code)
        except WeChatClientException as exc:
            if exc.errcode in _BAD_CODE:
                raise WeChatLoginError(detail=f"code2session {exc.errcode}") from exc
            raise WeChatUnavailableError(detail=f"code2session {exc.errcode} {exc.errmsg}") from exc
        return MiniProgramSession(
            openid=str(result["openid"]),
            unionid=result.get("unionid"),
            session_key=str(result.get("session_key", "")),
        )

    async def phone_number(self, code: str) -> str:
        """POST /wxa/business/getuserphonenumber (not wrapped by wechatpy 1.8)."""
        try:
            result = await self._run(
                self._api.post,
                "wxa/business/getuserphonenumber",
                data={"code": code},
                api_base_url=f"{self._api.base_url}/",
            )
        except WeChatClientException as exc:
            if exc.errcode in _BAD_CODE:
                raise WeChatLoginError("手机号授权已失效，请重试", detail=str(exc.errcode)) from exc
            raise WeChatUnavailableError(detail=f"phone {exc.errcode} {exc.errmsg}") from exc
        return str(result["phone_info"]["purePhoneNumber"])

    async def notify(self, message: DriverMessage) -> bool:
        """Send a subscribe message; False without a template or an authorisation from the user."""
        template_id = self._templates.get(message.kind)
        keywords = TEMPLATE_KEYWORDS.get(message.kind)
        if template_id is None or keywords is None or message.appid != self.appid:
            log.info("no subscribe template for %s in %s", message.kind, message.appid)
            return False
        data = {keywords[k]: {"value": v} for k, v in message.fields.items() if k in keywords}
        try:
            await self._run(
                self._api.wxa.send_subscribe_message,
                message.openid,
                template_id,
                data,
                page=message.page,
            )
        except WeChatClientException as exc:
            # 43101: the user has no authorisation left for this template. Sending without
            # one is refused by WeChat; the SMS fallback is not built yet.
            level = logging.INFO if exc.errcode == _NO_AUTHORISATION else logging.WARNING
            log.log(level, "subscribe message %s not sent: %s", message.kind, exc.errcode)
            return False
        except WeChatUnavailableError as exc:
            log.warning("subscribe message %s not sent: %s", message.kind, exc.detail)
            return False
        return True
