"""The pure parts of the operating surface: request ids, metric labels, scrapers, log lines."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from adapters.call_metrics import operation_of
from config.settings import Settings
from server.log_format import JsonFormatter, log_format
from server.metrics_endpoint import is_internal
from server.request_ids import REQUEST_ID, install_request_id_records, request_id_of


@pytest.mark.parametrize("given", ["abcdef12", "req-2026.12.04:0001", "a" * 64])
def test_a_well_formed_request_id_is_kept(given: str) -> None:
    assert request_id_of(given) == given


@pytest.mark.parametrize("given", [None, "", "short", "a" * 65, "has space 123", "x\r\nSet: y"])
def test_any_other_request_id_is_replaced_by_a_new_one(given: str | None) -> None:
    made = request_id_of(given)
    assert made != given and len(made) == 32 and int(made, 16) >= 0
    assert request_id_of(given) != made  # new each time


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("pay", "pay"),
        ("WeChatWxa.code_to_session", "WeChatWxa.code_to_session"),
        (
            "/v3/new-tax-control-fapiao/fapiao-applications/FA20261204000123?sub_mchid=1900000109",
            "/v3/new-tax-control-fapiao/fapiao-applications/{id}",
        ),
        ("/v3/vehicle/parking/parkings", "/v3/vehicle/parking/parkings"),
        ("/v3/pay/partner/transactions/out-trade-no/ST2026ABC/close", None),
    ],
)
def test_call_labels_carry_no_object_ids(name: str, label: str | None) -> None:
    found = operation_of(name)
    if label is not None:
        assert found == label
    assert "2026" not in found and "1900000109" not in found and "?" not in found


@pytest.mark.parametrize(
    ("remote", "internal"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("172.18.0.5", True),  # a compose network
        ("192.168.1.20", True),
        ("::ffff:10.0.0.7", True),
        ("8.8.8.8", False),
        ("::ffff:8.8.8.8", False),
        ("2001:4860::8888", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_only_internal_addresses_scrape_without_a_token(remote: str | None, internal: bool) -> None:
    assert is_internal(remote) is internal


def test_json_lines_in_production_text_in_development_unless_set() -> None:
    assert log_format(Settings()) == "text"
    assert log_format(Settings(env="production")) == "json"
    assert log_format(Settings(host="0.0.0.0")) == "json"
    assert log_format(Settings(env="production", log_format="text")) == "text"
    assert log_format(Settings(log_format="json")) == "json"


def test_a_json_line_carries_the_request_id_and_masks_the_traceback_too() -> None:
    install_request_id_records()
    logger = logging.getLogger("tests.operating")
    token = REQUEST_ID.set("req-00000042")
    try:
        try:
            raise ValueError("no stay for 浙B12345")
        except ValueError:
            record = logger.makeRecord(
                logger.name,
                logging.ERROR,
                __file__,
                1,
                "paying %s failed",
                ("沪A00001",),
                sys.exc_info(),
            )
    finally:
        REQUEST_ID.reset(token)
    from server.log_masking import mask

    record.msg, record.args = mask(record.getMessage()), None  # as the masking factory does
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-00000042"
    assert line["level"] == "ERROR" and line["logger"] == "tests.operating"
    assert line["message"] == "paying 沪A***01 failed"
    assert "ValueError: no stay for 浙B***45" in line["error"]
    assert "B12345" not in json.dumps(line, ensure_ascii=False)
    outside = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "idle", (), None)
    assert "request_id" not in json.loads(JsonFormatter().format(outside))
