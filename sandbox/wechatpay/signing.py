"""WeChat Pay API v3 signatures and resource encryption, as the platform side applies them."""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_private_key

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


class AuthorizationError(Exception):
    """A merchant request whose Authorization header does not check out."""


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parts of a merchant's `Authorization: WECHATPAY2-SHA256-RSA2048 ...` header."""

    mchid: str
    nonce_str: str
    signature: str
    timestamp: int
    serial_no: str


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM text."""
    key = load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("WeChat Pay keys are RSA keys")
    return key


def sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    """SHA256withRSA (PKCS#1 v1.5) of a message, base64 encoded."""
    raw = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def verify(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    """Whether a base64 SHA256withRSA signature matches the message."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def parse_authorization(header: str) -> Authorization:
    """Split the Authorization header; AuthorizationError when it is not the v3 schema."""
    schema, _, params = header.partition(" ")
    if schema != SCHEMA:
        raise AuthorizationError(f"unsupported schema {schema!r}")
    values = dict(_AUTH_PARAM.findall(params))
    try:
        return Authorization(
            mchid=values["mchid"],
            nonce_str=values["nonce_str"],
            signature=values["signature"],
            timestamp=int(values["timestamp"]),
            serial_no=values["serial_no"],
        )
    except (KeyError, ValueError) as exc:
        raise AuthorizationError(f"missing or bad parameter {exc}") from None


def request_message(method: str, path: str, timestamp: int, nonce: str, body: str) -> str:
    """The signed text of a merchant request: method, path with query, time, nonce, body."""
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"


def response_message(timestamp: int, nonce: str, body: str) -> str:
    """The signed text of a platform response or notification: time, nonce, body."""
    return f"{timestamp}\n{nonce}\n{body}\n"


def nonce(length: int = 32) -> str:
    """A random alphanumeric string."""
    return secrets.token_hex(length)[:length].upper()


def encrypt_resource(api_v3_key: str, nonce: str, associated_data: str, plaintext: str) -> str:
    """AEAD_AES_256_GCM with the API v3 key; base64 of ciphertext followed by the tag."""
    sealed = AESGCM(api_v3_key.encode()).encrypt(
        nonce.encode(), plaintext.encode(), associated_data.encode()
    )
    return base64.b64encode(sealed).decode()


def platform_headers(
    private_key: rsa.RSAPrivateKey, serial_no: str, timestamp: int, nonce: str, body: str
) -> dict[str, str]:
    """The Wechatpay-* headers that let a merchant verify a response or notification."""
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign(private_key, response_message(timestamp, nonce, body)),
        "Wechatpay-Serial": serial_no,
        "Wechatpay-Signature-Type": SCHEMA,
    }


def encrypted_resource(
    api_v3_key: str, original_type: str, associated_data: str, content: dict[str, Any]
) -> dict[str, str]:
    """The `resource` object of a notification, holding the content encrypted."""
    resource_nonce = nonce(12)
    plaintext = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return {
        "original_type": original_type,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": encrypt_resource(api_v3_key, resource_nonce, associated_data, plaintext),
        "associated_data": associated_data,
        "nonce": resource_nonce,
    }
