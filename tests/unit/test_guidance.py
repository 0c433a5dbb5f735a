"""Guidance sign rules and formats, and the Onbon BX frame against its worked example."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from core.guidance import (
    SignConfig,
    SignLine,
    SignPacer,
    SignTarget,
    TargetKind,
    line_text,
    sign_lines,
)
from device_bridge.formats import onbon_bx
from device_bridge.formats.sign_formats import SIGN_FORMATS

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
SIGN = SignConfig(
    code="S-01",
    transport="mqtt",
    address="",
    format="own_json",
    targets=(
        SignTarget(TargetKind.ZONE, "HS1", "中山东路"),
        SignTarget(TargetKind.LOT, "LOT-HOSP", "一院"),
        SignTarget(TargetKind.LOT, "LOT-GONE", "旧库"),
    ),
    min_interval_seconds=5,
)

# The worked example of the BX dynamic-area command (docs/devices.md): header and data.
EXAMPLE = bytes.fromhex(
    "01 00 00 80 00 00 00 00 00 00 fe 02 32 00"  # header: addresses, type, version, length
    " a3 06 01 2d 00 00 01 29 00"  # command, flags, one area of 41 bytes
    " 00 00 00 00 00 80 00 20 00 00 00 00 02 00 00 00 00 02 02 03 00 04 05 0e 00 00 00"
    " 30 31 32 33 34 35 51 52 53 54 54 56 27 42"  # the text
)


def test_lines_follow_the_targets_and_unknown_ones_show_dashes() -> None:
    lines = sign_lines(SIGN, {"LOT-HOSP": (0, 320)}, {"HS1": (7, 20)})
    assert [line_text(line) for line in lines] == ["中山东路 余位7", "一院 已满", "旧库 --"]


def test_the_pacer_sends_changes_only_and_at_most_once_per_interval() -> None:
    pacer = SignPacer()
    a = (SignLine("中山东路", 7, 20),)
    b = (SignLine("中山东路", 6, 20),)
    assert pacer.due(SIGN, a, NOW)
    pacer.sent(SIGN, a, NOW)
    assert not pacer.due(SIGN, a, NOW + timedelta(hours=1))  # unchanged: never again
    assert not pacer.due(SIGN, b, NOW + timedelta(seconds=4.9))
    assert pacer.due(SIGN, b, NOW + timedelta(seconds=5))
    pacer.forget(set())
    assert pacer.due(SIGN, a, NOW)  # a re-added sign gets its lines at once


def test_the_own_json_format_carries_counts_and_text() -> None:
    message = SIGN_FORMATS["own_json"].render(SIGN, (SignLine("一院", 12, 320),))
    body = json.loads(message.body)
    assert message.content_type == "application/json"
    assert body == {
        "sign": "S-01",
        "lines": [{"label": "一院", "free": 12, "total": 320, "text": "一院 余位12"}],
    }


def test_the_bx_frame_layout_matches_the_worked_example() -> None:
    assert onbon_bx.unframed("012345QRSTTV'B", onbon_bx.AreaStyle()) == EXAMPLE


def test_a_bx_frame_is_checksummed_escaped_and_terminated() -> None:
    frame = onbon_bx.frame("Z", onbon_bx.AreaStyle())  # 'Z' is 0x5A, the tail marker
    body = frame[8:-1]
    assert frame.startswith(b"\xa5" * 8) and frame.endswith(b"\x5a")
    assert b"\x5a" not in body and b"\xa5" not in body
    assert b"\x5b\x02" in body  # the escaped 'Z'
    unescaped = body.replace(b"\x5b\x02", b"\x5a").replace(b"\x5b\x01", b"\x5b")
    unescaped = unescaped.replace(b"\xa6\x02", b"\xa5").replace(b"\xa6\x01", b"\xa6")
    payload, crc = unescaped[:-2], int.from_bytes(unescaped[-2:], "little")
    assert crc == onbon_bx.crc16(payload)
    assert onbon_bx.crc16(b"123456789") == 0xBB3D  # the CRC-16/ARC check value


def test_the_bx_sign_format_writes_each_line_in_gbk() -> None:
    lines = (SignLine("中山东路", 7, 20), SignLine("一院", 0, 320))
    message = SIGN_FORMATS["onbon_bx"].render(SIGN, lines)
    assert message.content_type == "application/octet-stream"
    assert "中山东路 余位7\n一院 已满".encode("gbk") in message.body
