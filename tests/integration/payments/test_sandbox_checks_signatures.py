"""The WeChat Pay sandbox refuses what WeChat Pay refuses: unsigned, altered or stale requests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from wechatpayv3 import utils as wechatpayv3_utils

from sandbox.wechatpay import signing
from sandbox.wechatpay.keys import SandboxKeys, generate_keys
from tests.wechat_sandbox import SP_MCHID, sandbox_url

PATH = "/v3/pay/partner/transactions/out-trade-no/PK0001?sp_mchid=1900000100&sub_mchid=1900000101"


def authorization(keys: SandboxKeys, method: str, path: str, body: Any = None) -> str:
    key = signing.load_private_key(keys.merchant_private_key_pem)
    header: str = wechatpayv3_utils.build_authorization(
        path, method, SP_MCHID, keys.merchant_serial_no, key, body
    )
    return header


async def refusal(response: Any) -> tuple[int, str]:
    return response.status, (await response.json())["code"]


async def test_only_correctly_signed_requests_get_through(
    wechat_sandbox: TestServer, sandbox_keys: tuple[SandboxKeys, Path]
) -> None:
    keys, _ = sandbox_keys
    url = sandbox_url(wechat_sandbox)
    async with ClientSession() as http:
        async with http.get(url + PATH) as unsigned:
            assert await refusal(unsigned) == (401, "SIGN_ERROR")
        good = {"Authorization": authorization(keys, "GET", PATH)}
        async with http.get(url + PATH, headers=good) as missing:
            # Signed correctly: now the order's absence is the answer, signed by the platform.
            assert await refusal(missing) == (404, "ORDER_NOT_EXIST")
            assert missing.headers["Wechatpay-Serial"] == keys.platform_serial_no
        other = {"Authorization": authorization(generate_keys(), "GET", PATH)}
        async with http.get(url + PATH, headers=other) as foreign:
            assert await refusal(foreign) == (401, "SIGN_ERROR")

        body = {"sp_mchid": SP_MCHID, "sub_mchid": "1900000101"}
        close_path = "/v3/pay/partner/transactions/out-trade-no/PK0001/close"
        signed = {"Authorization": authorization(keys, "POST", close_path, body)}
        altered = json.dumps(dict(body, sub_mchid="1900000102"))
        async with http.post(url + close_path, data=altered, headers=signed) as changed:
            assert await refusal(changed) == (401, "SIGN_ERROR")

        # Signed by hand with a chosen time: only the timestamp differs between the two.
        fresh, old = int(time.time()), int(time.time()) - 301
        for moment, expected in ((fresh, (404, "ORDER_NOT_EXIST")), (old, (401, "SIGN_ERROR"))):
            headers = {"Authorization": signed_at(keys, moment)}
            async with http.get(url + PATH, headers=headers) as answer:
                assert await refusal(answer) == expected


def signed_at(keys: SandboxKeys, timestamp: int) -> str:
    key = signing.load_private_key(keys.merchant_private_key_pem)
    signature = signing.sign(key, signing.request_message("GET", PATH, timestamp, "N1", ""))
    return (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{SP_MCHID}",nonce_str="N1",'
        f'signature="{signature}",timestamp="{timestamp}",serial_no="{keys.merchant_serial_no}"'
    )
