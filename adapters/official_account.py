"""The Official Account's APIs through wechatpy: user info, customer-service messages, menu."""

from __future__ import annotations

from typing import Any

import requests
from wechatpy.exceptions import WeChatClientException

from adapters.wechat import PRODUCTION_BASE_URL, WeChatApiClient, run_wechatpy
from core.chat import OfficialAccountUser
from core.drivers import WeChatUnavailableError


class OfficialAccountClient:
    """One Official Account: who a follower is, messages to them, its menu."""

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base_url: str = PRODUCTION_BASE_URL,
        timeout: float = 2.0,
        token_storage: Any = None,
    ) -> None:
        self.appid = appid
        self._api = WeChatApiClient(appid, secret, base_url, timeout)
        if token_storage is not None:
            # Every worker shares one access token (RedisStorage): WeChat keeps only the newest.
            self._api.session = token_storage

    async def _run(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_wechatpy(call, *args, **kwargs)
        except requests.RequestException as exc:
            raise WeChatUnavailableError(detail=f"wechat: {exc!r}") from exc
        except WeChatClientException as exc:
            raise WeChatUnavailableError(detail=f"wechat {exc.errcode} {exc.errmsg}") from exc

    async def user_info(self, openid: str) -> OfficialAccountUser:
        """GET /cgi-bin/user/info: the follower's unionid (the account in an open platform)."""
        found = await self._run(self._api.user.get, openid)
        return OfficialAccountUser(
            openid=str(found.get("openid", openid)),
            unionid=found.get("unionid") or None,
            subscribed=bool(found.get("subscribe", 0)),
        )

    async def send_text(self, openid: str, text: str) -> None:
        """POST /cgi-bin/message/custom/send with a text."""
        await self._run(self._api.message.send_text, openid, text)

    async def send_miniprogram_page(
        self, openid: str, title: str, appid: str, pagepath: str
    ) -> None:
        """POST /cgi-bin/message/custom/send with a mini-program card."""
        card = {"title": title, "appid": appid, "pagepath": pagepath, "thumb_media_id": ""}
        await self._run(self._api.message.send_mini_program_page, openid, card)

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """POST /cgi-bin/menu/create."""
        await self._run(self._api.menu.create, menu)

    async def menu(self) -> dict[str, Any]:
        """GET /cgi-bin/menu/get."""
        found: dict[str, Any] = await self._run(self._api.menu.get)
        return found
