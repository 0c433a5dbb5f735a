"""WeChat API stand-in: access_token, code2session, phones, subscribe and CS messages, OA users."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from core.clock import Clock, SystemClock
from sandbox.wechat.directory import Directory

TOKEN_VALID = timedelta(seconds=7200)


@dataclass
class WeChatSandbox:
    """Apps, their access tokens and the messages sent to users."""

    directory: Directory
    clock: Clock
    tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # token -> appid, expiry
    messages: list[dict[str, Any]] = field(default_factory=list)
    menus: dict[str, dict[str, Any]] = field(default_factory=dict)  # appid -> menu
    unfollowed: set[str] = field(default_factory=set)  # openids


WECHAT_KEY = web.AppKey("wechat_sandbox", WeChatSandbox)


def create_app(directory: Directory, *, clock: Clock | None = None) -> web.Application:
    """Build the stand-in for the apps registered in the directory."""
    app = web.Application()
    app[WECHAT_KEY] = WeChatSandbox(directory, clock or SystemClock())
    install(app)
    return app


def install(app: web.Application) -> None:
    """Add the WeChat routes to an application that holds a WeChatSandbox."""
    app.router.add_get("/cgi-bin/token", token)
    app.router.add_get("/sns/jscode2session", code2session)
    app.router.add_post("/wxa/business/getuserphonenumber", phone_number)
    app.router.add_post("/cgi-bin/message/subscribe/send", send_subscribe)
    app.router.add_post("/cgi-bin/message/custom/send", send_custom)
    app.router.add_post("/sandbox/wechat/login", simulate_login)
    app.router.add_post("/sandbox/wechat/phone-code", simulate_phone_code)
    app.router.add_post("/sandbox/wechat/subscriptions", simulate_subscription)
    app.router.add_get("/sandbox/wechat/messages", list_messages)
    app.router.add_get("/cgi-bin/user/info", user_info)
    app.router.add_post("/cgi-bin/menu/create", create_menu)
    app.router.add_get("/cgi-bin/menu/get", get_menu)
    app.router.add_post("/sandbox/wechat/follow", simulate_follow)


def _error(errcode: int, errmsg: str) -> web.Response:
    # WeChat reports API errors with HTTP 200 and an errcode.
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


def _app_with_secret(sandbox: WeChatSandbox, query: Any) -> str | web.Response:
    appid = query.get("appid", "")
    if appid not in sandbox.directory.apps:
        return _error(40013, "invalid appid")
    if query.get("secret", "") != sandbox.directory.apps[appid]:
        return _error(40125, "invalid appsecret")
    return str(appid)


def _app_of_token(sandbox: WeChatSandbox, request: web.Request) -> str | web.Response:
    found = sandbox.tokens.get(request.query.get("access_token", ""))
    if found is None:
        return _error(40001, "invalid credential, access_token is invalid or not latest")
    appid, expires = found
    if sandbox.clock.now() >= expires:
        return _error(42001, "access_token expired")
    return appid


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    return data if isinstance(data, dict) else {}


async def token(request: web.Request) -> web.Response:
    """GET /cgi-bin/token?grant_type=client_credential&appid=&secret=."""
    sandbox = request.app[WECHAT_KEY]
    if request.query.get("grant_type") != "client_credential":
        return _error(40002, "invalid grant_type")
    appid = _app_with_secret(sandbox, request.query)
    if isinstance(appid, web.Response):
        return appid
    issued = secrets.token_urlsafe(48)
    sandbox.tokens[issued] = (appid, sandbox.clock.now() + TOKEN_VALID)
    return web.json_response({"access_token": issued, "expires_in": 7200})


async def code2session(request: web.Request) -> web.Response:
    """GET /sns/jscode2session: a wx.login code for the openid, unionid and session key."""
    sandbox = request.app[WECHAT_KEY]
    appid = _app_with_secret(sandbox, request.query)
    if isinstance(appid, web.Response):
        return appid
    if request.query.get("grant_type") != "authorization_code":
        return _error(40002, "invalid grant_type")
    found = sandbox.directory.redeem(request.query.get("js_code", ""), appid, sandbox.clock.now())
    if found is None:
        return _error(40029, "invalid code")
    user = found.user
    return web.json_response(
        {"openid": user.openid, "unionid": user.unionid, "session_key": secrets.token_hex(12)}
    )


async def phone_number(request: web.Request) -> web.Response:
    """POST /wxa/business/getuserphonenumber: a getPhoneNumber code for the phone number."""
    sandbox = request.app[WECHAT_KEY]
    appid = _app_of_token(sandbox, request)
    if isinstance(appid, web.Response):
        return appid
    code = str((await _body(request)).get("code", ""))
    found = sandbox.directory.redeem(code, appid, sandbox.clock.now(), phone=True)
    if found is None or found.phone is None:
        return _error(40029, "invalid code")
    info = {
        "phoneNumber": found.phone,
        "purePhoneNumber": found.phone,
        "countryCode": "86",
        "watermark": {"timestamp": int(sandbox.clock.now().timestamp()), "appid": appid},
    }
    return web.json_response({"errcode": 0, "errmsg": "ok", "phone_info": info})


async def send_subscribe(request: web.Request) -> web.Response:
    """POST /cgi-bin/message/subscribe/send: spends one of the user's authorisations."""
    sandbox = request.app[WECHAT_KEY]
    appid = _app_of_token(sandbox, request)
    if isinstance(appid, web.Response):
        return appid
    data = await _body(request)
    user = sandbox.directory.known(str(data.get("touser", "")))
    if user is None or user.appid != appid:
        return _error(40003, "invalid openid")
    template_id = str(data.get("template_id", ""))
    if not template_id or not isinstance(data.get("data"), dict):
        return _error(47003, "argument invalid! data.template_id or data invalid")
    if not sandbox.directory.spend(user.openid, template_id):
        return _error(43101, "user refuse to accept the msg")
    sandbox.messages.append({"kind": "subscribe", "appid": appid, **data})
    return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbits(60)})


async def send_custom(request: web.Request) -> web.Response:
    """POST /cgi-bin/message/custom/send: a customer-service message to a known user."""
    sandbox = request.app[WECHAT_KEY]
    appid = _app_of_token(sandbox, request)
    if isinstance(appid, web.Response):
        return appid
    data = await _body(request)
    user = sandbox.directory.known(str(data.get("touser", "")))
    if user is None or user.appid != appid:
        return _error(40003, "invalid openid")
    if data.get("msgtype") not in ("text", "image", "link", "miniprogrampage"):
        return _error(40008, "invalid message type")
    if user.openid in sandbox.unfollowed:
        return _error(43004, "require subscribe")
    sandbox.messages.append({"kind": "custom", "appid": appid, **data})
    return web.json_response({"errcode": 0, "errmsg": "ok"})


async def simulate_login(request: web.Request) -> web.Response:
    """Sandbox only: wx.login for a person in an app; answers the one-time code."""
    sandbox = request.app[WECHAT_KEY]
    data = await _body(request)
    appid, person = str(data.get("appid", "")), str(data.get("person", ""))
    if appid not in sandbox.directory.apps or not person:
        raise web.HTTPBadRequest(text="appid of a registered app and person are required")
    user = sandbox.directory.user(appid, person)
    code = sandbox.directory.issue_code(user, sandbox.clock.now())
    return web.json_response({"code": code, "openid": user.openid, "unionid": user.unionid})


async def simulate_phone_code(request: web.Request) -> web.Response:
    """Sandbox only: the getPhoneNumber button; answers the one-time code."""
    sandbox = request.app[WECHAT_KEY]
    data = await _body(request)
    appid, person = str(data.get("appid", "")), str(data.get("person", ""))
    phone = str(data.get("phone", ""))
    if appid not in sandbox.directory.apps or not person or not phone.isdigit():
        raise web.HTTPBadRequest(text="appid, person and a phone number are required")
    user = sandbox.directory.user(appid, person)
    return web.json_response(
        {"code": sandbox.directory.issue_code(user, sandbox.clock.now(), phone=phone)}
    )


async def simulate_subscription(request: web.Request) -> web.Response:
    """Sandbox only: the user accepts wx.requestSubscribeMessage for a template."""
    sandbox = request.app[WECHAT_KEY]
    data = await _body(request)
    openid, template_id = str(data.get("openid", "")), str(data.get("template_id", ""))
    if sandbox.directory.known(openid) is None or not template_id:
        raise web.HTTPBadRequest(text="a known openid and a template_id are required")
    remaining = sandbox.directory.grant(openid, template_id, int(data.get("count", 1)))
    return web.json_response({"openid": openid, "template_id": template_id, "remaining": remaining})


async def list_messages(request: web.Request) -> web.Response:
    """Sandbox only: messages sent, optionally to one openid."""
    sandbox = request.app[WECHAT_KEY]
    openid = request.query.get("openid")
    found = [m for m in sandbox.messages if openid is None or m.get("touser") == openid]
    return web.json_response(found)


async def user_info(request: web.Request) -> web.Response:
    """GET /cgi-bin/user/info: a follower of the Official Account, with the unionid."""
    sandbox = request.app[WECHAT_KEY]
    appid = _app_of_token(sandbox, request)
    if isinstance(appid, web.Response):
        return appid
    user = sandbox.directory.known(request.query.get("openid", ""))
    if user is None or user.appid != appid:
        return _error(40003, "invalid openid")
    if user.openid in sandbox.unfollowed:
        return web.json_response({"subscribe": 0, "openid": user.openid, "unionid": user.unionid})
    return web.json_response(
        {
            "subscribe": 1,
            "openid": user.openid,
            "language": "zh_CN",
            "subscribe_time": int(sandbox.clock.now().timestamp()),
            "unionid": user.unionid,
            "remark": "",
            "groupid": 0,
            "tagid_list": [],
            "subscribe_scene": "ADD_SCENE_QR_CODE",
        }
    )


_MENU_TYPES = {"click", "view", "miniprogram", "scancode_push", "location_select"}


def _menu_problem(menu: dict[str, Any]) -> str | None:
    """Why WeChat would refuse this menu (three buttons, five sub-buttons, names, keys)."""
    buttons = menu.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return "button size out of limit"
    for button in buttons:
        subs = button.get("sub_button")
        if subs:
            if len(subs) > 5:
                return "sub button size out of limit"
            if any(not isinstance(s, dict) or s.get("type") not in _MENU_TYPES for s in subs):
                return "invalid button type"
        elif button.get("type") not in _MENU_TYPES:
            return "invalid button type"
        if not button.get("name") or len(str(button["name"]).encode()) > 16:
            return "invalid button name size"
    return None


async def create_menu(request: web.Request) -> web.Response:
    """POST /cgi-bin/menu/create: keeps the Official Account's menu."""
    sandbox = request.app[WECHAT_KEY]
    appid = _app_of_token(sandbox, request)
    if isinstance(appid, web.Response):
        return appid
    menu = await _body(request)
    problem = _menu_problem(menu)
    if problem is not None:
        return _error(40017, problem)
    sandbox.menus[appid] = menu
    return web.json_response({"errcode": 0, "errmsg": "ok"})


async def get_menu(request: web.Request) -> web.Response:
    """GET /cgi-bin/menu/get: the menu created last."""
    sandbox = request.app[WECHAT_KEY]
    appid = _app_of_token(sandbox, request)
    if isinstance(appid, web.Response):
        return appid
    if appid not in sandbox.menus:
        return _error(46003, "menu no exist")
    return web.json_response({"menu": sandbox.menus[appid]})


async def simulate_follow(request: web.Request) -> web.Response:
    """Sandbox only: a person follows (or, with follow false, unfollows) an Official Account."""
    sandbox = request.app[WECHAT_KEY]
    data = await _body(request)
    appid, person = str(data.get("appid", "")), str(data.get("person", ""))
    if appid not in sandbox.directory.apps or not person:
        raise web.HTTPBadRequest(text="appid of a registered app and person are required")
    user = sandbox.directory.user(appid, person)
    if data.get("follow", True):
        sandbox.unfollowed.discard(user.openid)
    else:
        sandbox.unfollowed.add(user.openid)
    return web.json_response({"openid": user.openid, "unionid": user.unionid})
