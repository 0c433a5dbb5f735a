"""Log lines lose secrets, openids and the middle of plates, however they were written."""

from __future__ import annotations

import logging

import pytest

from server.log_masking import install_log_masking, mask

OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz12"


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        (
            "GET /sns/jscode2session?appid=wx1&secret=s3cr3t&js_code=0a1b2c&grant_type=x",
            "GET /sns/jscode2session?appid=wx1&secret=***&js_code=***&grant_type=x",
        ),
        (
            '"POST /cgi-bin/message/subscribe/send?access_token=ACC-123 HTTP/1.1" 200',
            '"POST /cgi-bin/message/subscribe/send?access_token=*** HTTP/1.1" 200',
        ),
        (
            '"GET /mp/plates/%E6%B5%99B12345/stays HTTP/1.1"',
            '"GET /mp/plates/浙B***45/stays HTTP/1.1"',
        ),
        ("plate 浙AD12345 entered", "plate 浙A***45 entered"),
        (
            f"GET /sandbox/wechat/messages?openid={OPENID}",
            "GET /sandbox/wechat/messages?openid=***",
        ),
        (f"driver {OPENID} signed in", "driver *** signed in"),
        ('{"openid": "o-driver-openid", "n": 1}', '{"openid": "***", "n": 1}'),
        ("password=hunter2-2026&username=a", "password=***&username=a"),
    ],
)
def test_mask(line: str, masked: str) -> None:
    assert mask(line) == masked


@pytest.mark.parametrize(
    "line",
    [
        "stay S20261125-0001 fee 800 fen at LOT-TIANYI berth HS1-001",
        "tariff_code=lot-standard status code 503",
        "plate 浙B***45 already masked",
    ],
)
def test_other_text_is_left_alone(line: str) -> None:
    assert mask(line) == line


def test_records_of_any_logger_are_masked_once_installed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_masking()
    install_log_masking()  # idempotent: not masked twice over
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("calling %s?secret=%s", "/cgi-bin/token", "abc")
        logging.getLogger("core.services").warning("plate %s for %s", "浙B12345", OPENID)
    assert caplog.messages == ["calling /cgi-bin/token?secret=***", "plate 浙B***45 for ***"]
    assert "abc" not in caplog.text and "12345" not in caplog.text
