"""Every log line with credentials, openids and plates masked, whichever logger wrote it."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from server.log_records import add_record_step

MASK = "***"
# aiohttp's default without the Referer (it repeats a URL); used by the app and the sandbox.
ACCESS_LOG_FORMAT = '%a %t "%r" %s %b %Tf "%{User-Agent}i"'
# Query parameters and JSON or key=value fields whose value is a secret or identifies a person.
_SENSITIVE = (
    "secret|js_code|access_token|refresh_token|session_key|openid|unionid|"
    "password|token|phone|phone_number|sign|signature|msg_signature|echostr"
)
_FIELD = re.compile(
    rf"(?<![A-Za-z0-9_])({_SENSITIVE})(=|\"?\s*:\s*\"?|%3D)([^&\s\"',;}}]+)", re.IGNORECASE
)
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领警学挂"
_PROVINCE_ENCODED = "|".join(
    re.escape("".join(f"%{b:02X}" for b in ch.encode())) for ch in _PROVINCES
)
# A plate in clear or percent-encoded (as in a request line): province, letter, 4 to 6 more.
_PLATE = re.compile(
    rf"(?:[{_PROVINCES}]|{_PROVINCE_ENCODED})[A-Z](?:[A-Z0-9]{{4,6}})(?![A-Z0-9])",
    re.IGNORECASE,
)
# A WeChat openid or unionid where it stands alone (a path segment): "o" and 27-28 more.
_OPENID = re.compile(r"(?<![A-Za-z0-9_-])o[A-Za-z0-9_-]{27,28}(?![A-Za-z0-9_-])")


def _plate(match: re.Match[str]) -> str:
    plate = unquote(match.group(0)).upper()
    return plate[:2] + MASK + plate[-2:]


def mask(text: str) -> str:
    """The text with secret values, openids and all but the ends of plates replaced."""
    text = _FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _OPENID.sub(MASK, text)
    return _PLATE.sub(_plate, text)


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it for the handler to report
        return
    record.msg, record.args = mask(message), None


def install_log_masking() -> None:
    """Make every log record carry its message masked (idempotent; once per process)."""
    add_record_step(_mask_record)
