"""The WeChat Pay stand-in's state, and the signed answers every route gives."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from core.clock import Clock
from sandbox.wechat.directory import Directory
from sandbox.wechatpay import signing
from sandbox.wechatpay.codes import CodeDesk
from sandbox.wechatpay.keys import SandboxKeys
from sandbox.wechatpay.notifications import Outbox
from sandbox.wechatpay.orders import PayBooks, SandboxApiError
from sandbox.wechatpay.parking_state import ParkingDesk


@dataclass(frozen=True, slots=True)
class BillFile:
    """A generated bill waiting to be downloaded (its link expires)."""

    content: bytes
    expires_at: datetime


@dataclass
class PaySandbox:
    """The state of the WeChat Pay stand-in and the keys it signs with."""

    keys: SandboxKeys
    books: PayBooks
    directory: Directory | None
    clock: Clock
    wall_clock: Clock
    refund_delay: float | None
    platform_key: rsa.RSAPrivateKey = field(init=False)
    merchant_key: rsa.RSAPublicKey = field(init=False)
    outbox: Outbox = field(init=False)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    codes: CodeDesk = field(default_factory=CodeDesk)
    bill_files: dict[str, BillFile] = field(default_factory=dict)
    parking: ParkingDesk = field(default_factory=ParkingDesk)
    _forger_key: rsa.RSAPrivateKey | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.platform_key = signing.load_private_key(self.keys.platform_private_key_pem)
        merchant = signing.load_private_key(self.keys.merchant_private_key_pem)
        self.merchant_key = merchant.public_key()
        self.outbox = Outbox(self.keys, self.platform_key, self.clock)

    @property
    def forger_key(self) -> rsa.RSAPrivateKey:
        """A key that is not WeChat Pay's, for answers a man in the middle would sign."""
        if self._forger_key is None:
            self._forger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._forger_key


SANDBOX_KEY = web.AppKey("wechatpay_sandbox", PaySandbox)


def spawn(sandbox: PaySandbox, coroutine: Coroutine[Any, Any, None]) -> None:
    """Run something later in the stand-in (cancelled when it stops)."""
    task = asyncio.get_running_loop().create_task(coroutine)
    sandbox.tasks.add(task)
    task.add_done_callback(sandbox.tasks.discard)


def answer(
    sandbox: PaySandbox, status: int, payload: dict[str, Any] | None, *, forged: bool = False
) -> web.Response:
    """A response signed with the platform key, as every WeChat Pay answer is (or forged)."""
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    timestamp = int(sandbox.clock.now().timestamp())
    key = sandbox.forger_key if forged else sandbox.platform_key
    headers = signing.platform_headers(
        key, sandbox.keys.platform_serial_no, timestamp, signing.nonce(), body
    )
    headers["Request-ID"] = uuid.uuid4().hex
    if payload is None:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; PARAM_ERROR otherwise."""
    try:
        data = json.loads(await request.text())
    except json.JSONDecodeError:
        raise SandboxApiError(400, "PARAM_ERROR", "请求体不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise SandboxApiError(400, "PARAM_ERROR", "请求体必须是对象")
    return data


def sub_mchid_of(request: web.Request) -> str:
    """The sub-merchant a query names, after checking the service provider's number."""
    sandbox = request.app[SANDBOX_KEY]
    if request.query.get("sp_mchid", sandbox.books.sp_mchid) != sandbox.books.sp_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "sp_mchid 与签名商户号不一致")
    sub_mchid = request.query.get("sub_mchid", "")
    if not sub_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 sub_mchid")
    return sub_mchid
