"""WeChat Pay e-invoicing (/v3/new-tax-control-fapiao/) stand-in, partner mode: issue, query,
reverse (红冲) and files, with switches to make issuing fail or lag; FAPIAO.ISSUED notifies."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.documents import text_pdf
from sandbox.wechatpay.orders import SandboxApiError, wechat_time
from sandbox.wechatpay.state import SANDBOX_KEY, answer, read_json, sub_mchid_of

BASE = "/v3/new-tax-control-fapiao"


@dataclass
class Application:
    """One fapiao application of a sub-merchant with its one fapiao."""

    apply_id: str
    sub_mchid: str
    fapiao_id: str
    buyer: dict[str, Any]
    total_amount: int
    items: list[dict[str, Any]]
    status: str = "ISSUE_ACCEPTED"
    lag: int = 0  # queries still answered ISSUE_ACCEPTED
    blue: dict[str, str] = field(default_factory=dict)
    red: dict[str, str] = field(default_factory=dict)
    token: str = field(default_factory=lambda: secrets.token_hex(12))

    def view(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "fapiao_id": self.fapiao_id,
            "status": self.status,
            "total_amount": self.total_amount,
        }
        if self.blue:
            entry["blue_fapiao"] = self.blue
        if self.red:
            entry["red_fapiao"] = self.red
        return {"total_count": 1, "fapiao_information": [entry]}


@dataclass
class FapiaoBooks:
    """Every application, and the switches tests and demos turn."""

    applications: dict[str, Application] = field(default_factory=dict)
    fail_next: list[tuple[str, str]] = field(default_factory=list)
    lag_queries: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    callback_url: str | None = None  # development-config: where FAPIAO.* notifies go
    titles: dict[str, dict[str, str]] = field(default_factory=dict)  # filled in the picker


FAPIAO_KEY = web.AppKey("wechatpay_fapiao", FapiaoBooks)


def install(app: web.Application) -> None:
    """Add the fapiao routes and their books to the WeChat Pay sandbox."""
    app[FAPIAO_KEY] = FapiaoBooks()
    app.router.add_post(f"{BASE}/fapiao-applications", apply)
    app.router.add_get(f"{BASE}/fapiao-applications/{{id}}", query)
    app.router.add_post(f"{BASE}/fapiao-applications/{{id}}/reverse", reverse)
    app.router.add_get(f"{BASE}/fapiao-applications/{{id}}/fapiao-files", files)
    app.router.add_get(f"{BASE}/download", download)
    app.router.add_get(f"{BASE}/merchant/{{sub_mchid}}/check", check_sub_merchant)
    app.router.add_patch(f"{BASE}/merchant/development-config", set_config)
    app.router.add_get(f"{BASE}/merchant/development-config", show_config)
    app.router.add_get(f"{BASE}/user-title/title-url", title_url)
    app.router.add_get(f"{BASE}/user-title", user_title)
    app.router.add_post("/sandbox/wechatpay/fapiao/fail", fail_next)
    app.router.add_post("/sandbox/wechatpay/fapiao/user-title", fill_title)
    app.router.add_post("/sandbox/wechatpay/fapiao/lag", lag)


def _books(request: web.Request) -> FapiaoBooks:
    return request.app[FAPIAO_KEY]


def _application(request: web.Request, sub_mchid: str) -> Application:
    found = _books(request).applications.get(request.match_info["id"])
    if found is None or found.sub_mchid != sub_mchid:
        raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "发票申请单不存在")
    return found


async def apply(request: web.Request) -> web.Response:
    """POST fapiao-applications: 202, issued asynchronously (seen at the next query)."""
    sandbox, books = request.app[SANDBOX_KEY], _books(request)
    data = await read_json(request)
    sub_mchid = data.get("sub_mchid")
    if not isinstance(sub_mchid, str) or not sub_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "服务商模式下缺少 sub_mchid")
    apply_id, buyer = data.get("fapiao_apply_id"), data.get("buyer_information")
    infos = data.get("fapiao_information")
    if not isinstance(apply_id, str) or not isinstance(buyer, dict) or not isinstance(infos, list):
        raise SandboxApiError(
            400, "PARAM_ERROR", "缺少 fapiao_apply_id、buyer_information 或 fapiao_information"
        )
    if buyer.get("type") == "ORGANIZATION" and not buyer.get("taxpayer_id"):
        raise SandboxApiError(400, "PARAM_ERROR", "单位抬头缺少 taxpayer_id")
    [info] = infos
    items = info.get("items") or []
    total = info.get("total_amount")
    if (
        not isinstance(total, int)
        or total <= 0
        or sum(int(i["total_amount"]) for i in items) != total
    ):
        raise SandboxApiError(400, "PARAM_ERROR", "total_amount 与明细合计不一致")
    earlier = books.applications.get(apply_id)
    if earlier is not None:  # the same application again: nothing new
        return answer(sandbox, 202, None)
    if books.fail_next:
        code, message = books.fail_next.pop(0)
        raise SandboxApiError(400, code, message)
    found = Application(
        apply_id, sub_mchid, str(info["fapiao_id"]), buyer, total, items, lag=books.lag_queries
    )
    books.applications[apply_id] = found
    if books.callback_url and not found.lag:
        # Issued a moment later, and said so with a FAPIAO.ISSUED notify, as WeChat Pay does.
        _later(request, _issue_and_notify(request, found))
    return answer(sandbox, 202, None)


async def _issue_and_notify(request: web.Request, found: Application) -> None:
    await asyncio.sleep(0.05)
    if found.status == "ISSUE_ACCEPTED":
        _issue(request, found)
    await _notify(request, found, "FAPIAO.ISSUED", "发票已开具")


async def _notify(request: web.Request, found: Application, event: str, summary: str) -> None:
    sandbox, url = request.app[SANDBOX_KEY], _books(request).callback_url
    if url:
        content = {
            "mchid": sandbox.books.sp_mchid,
            "sub_mchid": found.sub_mchid,
            "fapiao_apply_id": found.apply_id,
            "fapiao_information": [{"fapiao_id": found.fapiao_id, "status": found.status}],
        }
        await sandbox.outbox.send(url, event, summary, "fapiao", content)


def _later(request: web.Request, coroutine: Coroutine[Any, Any, None]) -> None:
    tasks = request.app[SANDBOX_KEY].tasks
    task = asyncio.get_running_loop().create_task(coroutine)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def query(request: web.Request) -> web.Response:
    """GET fapiao-applications/{id}?sub_mchid=: where it is; issues once its lag is spent."""
    sandbox = request.app[SANDBOX_KEY]
    found = _application(request, sub_mchid_of(request))
    if found.status == "ISSUE_ACCEPTED":
        if found.lag > 0:
            found.lag -= 1
        else:
            _issue(request, found)
    elif found.status == "REVERSE_ACCEPTED":
        found.status = "REVERSED"
    return answer(sandbox, 200, found.view())


def _issue(request: web.Request, found: Application) -> None:
    sandbox = request.app[SANDBOX_KEY]
    now = sandbox.clock.now()
    found.status = "ISSUED"
    found.blue = {
        "fapiao_code": "",  # 数电票 have a 20-digit number and no code
        "fapiao_number": f"{now:%y}{secrets.randbelow(10**18):018d}",
        "check_code": "",
        "password": "",
        "fapiao_time": wechat_time(now),
    }
    lines = [
        "Sandbox digital e-invoice (shu dian piao)",
        f"Number: {found.blue['fapiao_number']}",
        f"Seller sub_mchid: {found.sub_mchid}",
        f"Buyer tax id: {found.buyer.get('taxpayer_id', '-')}",
        f"Total: {found.total_amount // 100}.{found.total_amount % 100:02d} CNY",
        f"Issued: {found.blue['fapiao_time']}",
    ]
    _books(request).files[found.token] = text_pdf(lines)


async def reverse(request: web.Request) -> web.Response:
    """POST fapiao-applications/{id}/reverse: a red-letter fapiao for the whole blue one."""
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    found = _application(request, str(data.get("sub_mchid", "")))
    if not data.get("reverse_reason"):
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 reverse_reason")
    if found.status in ("REVERSE_ACCEPTED", "REVERSED"):
        return answer(sandbox, 202, None)
    if found.status != "ISSUED":
        raise SandboxApiError(400, "INVALID_REQUEST", "发票未开具，不能冲红")
    [info] = data.get("fapiao_information") or [{}]
    if info.get("fapiao_number") != found.blue["fapiao_number"]:
        raise SandboxApiError(400, "PARAM_ERROR", "fapiao_number 与蓝票不一致")
    found.status = "REVERSE_ACCEPTED"
    now = sandbox.clock.now()
    found.red = {
        "fapiao_number": f"{now:%y}{secrets.randbelow(10**18):018d}",
        "fapiao_time": wechat_time(now),
    }
    if _books(request).callback_url:
        _later(request, _reverse_and_notify(request, found))
    return answer(sandbox, 202, None)


async def _reverse_and_notify(request: web.Request, found: Application) -> None:
    await asyncio.sleep(0.05)
    found.status = "REVERSED"
    await _notify(request, found, "FAPIAO.REVERSED", "发票已冲红")


async def set_config(request: web.Request) -> web.Response:
    """PATCH merchant/development-config: the callback URL of FAPIAO.* notifies."""
    data = await read_json(request)
    url = data.get("callback_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise SandboxApiError(400, "PARAM_ERROR", "callback_url 格式不正确")
    _books(request).callback_url = url
    return answer(request.app[SANDBOX_KEY], 200, {"callback_url": url})


async def show_config(request: web.Request) -> web.Response:
    """GET merchant/development-config."""
    url = _books(request).callback_url or ""
    return answer(request.app[SANDBOX_KEY], 200, {"callback_url": url})


async def files(request: web.Request) -> web.Response:
    """GET .../fapiao-files?sub_mchid=: a signed download URL of the issued file."""
    sandbox = request.app[SANDBOX_KEY]
    found = _application(request, sub_mchid_of(request))
    if found.token not in _books(request).files:
        raise SandboxApiError(400, "INVALID_REQUEST", "发票文件尚未生成")
    url = f"{request.scheme}://{request.host}{BASE}/download?token={found.token}"
    entry = {"fapiao_id": found.fapiao_id, "download_url": url, "status": "DOWNLOAD_AVAILABLE"}
    return answer(sandbox, 200, {"fapiao_download_info_list": [entry]})


async def download(request: web.Request) -> web.Response:
    """GET download?token=: the PDF (the request is signed like every /v3/ call)."""
    body = _books(request).files.get(request.query.get("token", ""))
    if body is None:
        raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "文件不存在")
    return web.Response(body=body, content_type="application/pdf")


async def check_sub_merchant(request: web.Request) -> web.Response:
    """GET merchant/{sub_mchid}/check: every sandbox sub-merchant may invoice."""
    return answer(
        request.app[SANDBOX_KEY],
        200,
        {"sub_mchid": request.match_info["sub_mchid"], "status": "OPENED"},
    )


async def title_url(request: web.Request) -> web.Response:
    """GET user-title/title-url: the mini-program page of WeChat's title picker."""
    sub_mchid_of(request)
    needed = ("fapiao_apply_id", "source", "total_amount", "appid", "openid")
    missing = [name for name in needed if not request.query.get(name)]
    if missing:
        raise SandboxApiError(400, "PARAM_ERROR", f"缺少参数 {', '.join(missing)}")
    apply_id = request.query["fapiao_apply_id"]
    body = {
        "miniprogram_appid": "wx9db2c16d0633c2e7",  # WeChat's 微信发票 mini-program
        "miniprogram_path": f"pages/fapiao/title?fapiao_apply_id={apply_id}",
        "miniprogram_user_name": "gh_sandbox_fapiao",
    }
    return answer(request.app[SANDBOX_KEY], 200, body)


async def user_title(request: web.Request) -> web.Response:
    """GET user-title: what the user filled in the picker; 404 before they have."""
    sub_mchid_of(request)
    filled = _books(request).titles.get(request.query.get("fapiao_apply_id", ""))
    if filled is None:
        raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "用户尚未填写抬头")
    return answer(request.app[SANDBOX_KEY], 200, filled)


async def fill_title(request: web.Request) -> web.Response:
    """Sandbox only: the user picks a title in WeChat for an application number."""
    data = await read_json(request)
    apply_id = str(data.get("fapiao_apply_id", ""))
    title = {k: str(data[k]) for k in ("type", "name", "taxpayer_id") if data.get(k)}
    _books(request).titles[apply_id] = title
    return web.json_response(title)


async def fail_next(request: web.Request) -> web.Response:
    """Sandbox only: the next `count` applications are refused with `code` and `message`."""
    data = await read_json(request)
    count = int(data.get("count", 1))
    failure = (str(data.get("code", "INVALID_REQUEST")), str(data.get("message", "税控设备离线")))
    _books(request).fail_next.extend([failure] * count)
    return web.json_response({"failing": len(_books(request).fail_next)})


async def lag(request: web.Request) -> web.Response:
    """Sandbox only: new applications answer ISSUE_ACCEPTED to this many queries first."""
    data = await read_json(request)
    _books(request).lag_queries = int(data.get("queries", 0))
    return web.json_response({"lag_queries": _books(request).lag_queries})
