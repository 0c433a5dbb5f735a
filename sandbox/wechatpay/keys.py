"""Key material of the WeChat Pay sandbox: merchant API key, platform key and certificate."""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

MERCHANT_KEY_FILE = "apiclient_key.pem"
_FILES = {
    "merchant_private_key_pem": MERCHANT_KEY_FILE,
    "merchant_serial_no": "apiclient_serial.txt",
    "platform_private_key_pem": "platform_key.pem",
    "platform_certificate_pem": "platform_cert.pem",
    "api_v3_key": "apiv3_key.txt",
}


@dataclass(frozen=True, slots=True)
class SandboxKeys:
    """What a service provider and WeChat Pay share: the sandbox holds both sides."""

    merchant_private_key_pem: str
    merchant_serial_no: str
    platform_private_key_pem: str
    platform_certificate_pem: str
    api_v3_key: str

    @property
    def platform_serial_no(self) -> str:
        """The platform certificate's serial number as WeChat Pay writes it (upper hex)."""
        certificate = x509.load_pem_x509_certificate(self.platform_certificate_pem.encode())
        return format(certificate.serial_number, "X")

    def save(self, folder: Path) -> None:
        """Write the key files, readable by the owner only."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for field, name in _FILES.items():
            path = folder / name
            path.write_text(getattr(self, field), encoding="utf-8")
            os.chmod(path, 0o600)

    @classmethod
    def load(cls, folder: Path) -> SandboxKeys:
        """Read the key files written by `save`."""
        values = {f: (folder / n).read_text(encoding="utf-8") for f, n in _FILES.items()}
        return cls(**values)

    @classmethod
    def load_or_create(cls, folder: Path, now: datetime | None = None) -> SandboxKeys:
        """Keys from a folder, generated and saved there first when missing."""
        if all((folder / name).is_file() for name in _FILES.values()):
            return cls.load(folder)
        keys = generate_keys(now)
        keys.save(folder)
        return keys


def generate_keys(now: datetime | None = None) -> SandboxKeys:
    """Fresh RSA-2048 keys, a self-signed platform certificate and a 32-character API v3 key."""
    # Certificate validity is checked by wechatpayv3 against the machine's time, so it is
    # anchored on the real clock, never on a test's frozen one.
    moment = now or datetime.now(UTC)
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA sandbox"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(days=1))
        .not_valid_after(moment + timedelta(days=5 * 365))
        .sign(platform, hashes.SHA256())
    )
    alphabet = string.ascii_letters + string.digits
    return SandboxKeys(
        merchant_private_key_pem=_private_pem(merchant),
        merchant_serial_no=secrets.token_hex(20).upper(),
        platform_private_key_pem=_private_pem(platform),
        platform_certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        api_v3_key="".join(secrets.choice(alphabet) for _ in range(32)),
    )


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
