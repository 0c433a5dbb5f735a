"""WeChat Pay v3 crypto against Tencent's published vectors: our adapter and the sandbox alike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import utils as wechatpayv3_utils

from adapters.wechatpay import WeChatPayConfig, WeChatPayGateway
from core.clock import FrozenClock
from core.payment_gateway import NotifyRejectedError
from sandbox.wechatpay import signing
from tests.unit import wechatpay_vectors as v

NOTIFIED_AT = datetime.fromtimestamp(v.NOTIFY_TIMESTAMP, UTC)


def test_aes_gcm_vector_decrypts_with_wechatpayv3() -> None:
    plaintext = wechatpayv3_utils.aes_decrypt(
        v.AES_NONCE, v.AES_CIPHERTEXT, v.AES_ASSOCIATED_DATA, v.AES_KEY
    )
    assert plaintext == v.AES_PLAINTEXT
    wrong = wechatpayv3_utils.aes_decrypt(
        v.AES_NONCE, v.AES_CIPHERTEXT, v.AES_ASSOCIATED_DATA, "testAPIv3Key1111"
    )
    assert wrong is None


def test_sandbox_encrypts_exactly_like_wechat_pay() -> None:
    sealed = signing.encrypt_resource(
        v.AES_KEY, v.AES_NONCE, v.AES_ASSOCIATED_DATA, v.AES_PLAINTEXT
    )
    assert sealed == v.AES_CIPHERTEXT
    resource = signing.encrypt_resource(
        v.NOTIFY_API_V3_KEY, v.NOTIFY_RESOURCE_NONCE, v.NOTIFY_RESOURCE_AAD, v.NOTIFY_PLAINTEXT
    )
    assert resource == v.NOTIFY_RESOURCE_CIPHERTEXT


def test_sha256_with_rsa_vector() -> None:
    key = signing.load_private_key(v.PRIVATE_KEY)
    assert signing.sign(key, v.SIGNED_SOURCE) == v.SOURCE_SIGNATURE
    assert wechatpayv3_utils.rsa_sign(key, v.SIGNED_SOURCE) == v.SOURCE_SIGNATURE
    assert signing.verify(key.public_key(), v.SIGNED_SOURCE, v.SOURCE_SIGNATURE)
    assert not signing.verify(key.public_key(), "sourcf", v.SOURCE_SIGNATURE)


def test_sandbox_signs_a_notification_exactly_like_wechat_pay() -> None:
    headers = signing.platform_headers(
        signing.load_private_key(v.PRIVATE_KEY),
        v.NOTIFY_HEADERS["Wechatpay-Serial"],
        v.NOTIFY_TIMESTAMP,
        v.NOTIFY_HEADERS["Wechatpay-Nonce"],
        v.NOTIFY_BODY,
    )
    expected = {k: val for k, val in v.NOTIFY_HEADERS.items() if k != "Content-Type"}
    assert headers == expected


def test_the_published_certificate_holds_the_published_key() -> None:
    cert = x509.load_pem_x509_certificate(v.PLATFORM_CERTIFICATE.encode())
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert (
        public.public_numbers()
        == signing.load_private_key(v.PRIVATE_KEY).public_key().public_numbers()
    )
    assert format(cert.serial_number, "X") == v.NOTIFY_HEADERS["Wechatpay-Serial"]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOTIFIED_AT)


@pytest.fixture
async def gateway(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[WeChatPayGateway]:
    """The adapter holding the published platform certificate, as if downloaded before."""
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    (cert_dir / "D7CE59D1F522D701.pem").write_text(v.PLATFORM_CERTIFICATE, encoding="utf-8")
    config = WeChatPayConfig(
        sp_mchid="1234567890",
        sp_appid="wx-test",
        private_key_pem=v.PRIVATE_KEY,
        cert_serial_no="ANY",
        api_v3_key=v.NOTIFY_API_V3_KEY,
        base_url="http://127.0.0.1:9",  # never reached: the certificate is known
        cert_dir=str(cert_dir),
    )
    adapter = WeChatPayGateway(config, clock)
    yield adapter
    await adapter.aclose()


async def test_adapter_verifies_and_decrypts_the_published_notification(
    gateway: WeChatPayGateway,
) -> None:
    data = await gateway.decode_notification(v.NOTIFY_HEADERS, v.NOTIFY_BODY.encode())
    assert data["id"] == "3119dfba-e649-5eec-ab1e-3412bc4d2e17"
    assert data["event_type"] == "PAYSCORE.USER_OPEN_SERVICE"
    assert data["resource"] == json.loads(v.NOTIFY_PLAINTEXT)
    # A genuine notification of an event payments do not use is acknowledged and ignored.
    assert await gateway.parse_notice(v.NOTIFY_HEADERS, v.NOTIFY_BODY.encode()) is None


async def test_adapter_rejects_a_changed_body(gateway: WeChatPayGateway) -> None:
    forged = v.NOTIFY_BODY.replace("签约成功", "签约失败").encode()
    with pytest.raises(NotifyRejectedError):
        await gateway.decode_notification(v.NOTIFY_HEADERS, forged)


async def test_adapter_rejects_a_replayed_notification(
    gateway: WeChatPayGateway, clock: FrozenClock
) -> None:
    clock.advance(timedelta(minutes=5, seconds=1))
    with pytest.raises(NotifyRejectedError, match="301 s from our clock"):
        await gateway.decode_notification(v.NOTIFY_HEADERS, v.NOTIFY_BODY.encode())


async def test_adapter_rejects_another_signature(gateway: WeChatPayGateway) -> None:
    headers = dict(v.NOTIFY_HEADERS, **{"Wechatpay-Signature": v.SOURCE_SIGNATURE})
    with pytest.raises(NotifyRejectedError):
        await gateway.decode_notification(headers, v.NOTIFY_BODY.encode())


def test_request_payment_is_signed_over_the_four_wechat_fields(
    gateway: WeChatPayGateway,
) -> None:
    signed = gateway.request_payment("wx-test", "wx201410272009395522657a690389285100", NOTIFIED_AT)
    assert (signed.app_id, signed.time_stamp, signed.sign_type) == (
        "wx-test",
        str(v.NOTIFY_TIMESTAMP),
        "RSA",
    )
    assert signed.package == "prepay_id=wx201410272009395522657a690389285100"
    message = f"{signed.app_id}\n{signed.time_stamp}\n{signed.nonce_str}\n{signed.package}\n"
    cert = x509.load_pem_x509_certificate(v.PLATFORM_CERTIFICATE.encode())
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert signing.verify(public, message, signed.pay_sign)


def test_sandbox_accepts_wechatpayv3_authorization_and_refuses_changes() -> None:
    key = signing.load_private_key(v.PRIVATE_KEY)
    body = {"sp_mchid": "1900000100", "sub_mchid": "1900000101"}
    path = "/v3/pay/partner/transactions/out-trade-no/PK1/close"
    header = wechatpayv3_utils.build_authorization(path, "POST", "1900000100", "SERIAL", key, body)
    auth = signing.parse_authorization(header)
    assert (auth.mchid, auth.serial_no) == ("1900000100", "SERIAL")
    sent = json.dumps(body)
    message = signing.request_message("POST", path, auth.timestamp, auth.nonce_str, sent)
    assert signing.verify(key.public_key(), message, auth.signature)
    changed = signing.request_message("POST", path, auth.timestamp, auth.nonce_str, sent + " ")
    assert not signing.verify(key.public_key(), changed, auth.signature)
    with pytest.raises(signing.AuthorizationError):
        signing.parse_authorization(header.replace("WECHATPAY2-SHA256-RSA2048", "Bearer"))
