"""MQTT messages meet the HTTP bodies' input limits: bad ones are refused, never a crash."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from device_bridge.mqtt import decode

TOPIC = "parking/v1/sensors/MAG-HS1-001/events"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"[" * 5000 + b"]" * 5000, "json_too_deep"),
        (b'{"event_id": "a\\u0000b"}', "nul_character"),
        (b'{"x": NaN}', "number_out_of_range"),
        (b"not json", "invalid_request"),
    ],
)
def test_a_bad_message_is_a_domain_error_naming_the_problem(payload: bytes, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        decode("parking/v1", TOPIC, payload)
    assert refused.value.code == code
