"""Onbon (仰邦) BX-5/BX-6 LED controllers: a frame that updates one dynamic area (动态区).

The layout follows the published worked example of the BX "real-time dynamic area" command
(group 0xA3, command 0x06; docs/devices.md cites it): eight 0xA5 wake-up bytes, a 14-byte
header (destination and source address, six reserved bytes, device type 0xFE, protocol 0x02,
data length), the data, a CRC-16 and the 0x5A tail. Text is GBK. Guidance signs and lane LEDs
(behind a camera's RS-485 pass-through) both use it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

WAKE_UP = b"\xa5" * 8
TAIL = b"\x5a"
DEVICE_TYPE_ANY = 0xFE
PROTOCOL_VERSION = 0x02
SOURCE_ADDRESS = 0x8000
DYNAMIC_AREA = (0xA3, 0x06)
# The bytes between the command and the area count, as the worked example has them.
COMMAND_FLAGS = bytes.fromhex("012d0000")
# Escapes keep the frame markers out of the body (BX protocol, "转义").
_ESCAPES = {0xA5: b"\xa6\x02", 0xA6: b"\xa6\x01", 0x5A: b"\x5b\x02", 0x5B: b"\x5b\x01"}


@dataclass(frozen=True, slots=True)
class AreaStyle:
    """Where the area is and how its text moves; defaults are the worked example's."""

    width: int = 128
    height: int = 32
    x: int = 0
    y: int = 0
    area_id: int = 0
    timeout_seconds: int = 2
    single_line: int = 2
    auto_wrap: int = 2
    display_mode: int = 3
    exit_mode: int = 0
    speed: int = 4
    stay: int = 5


def crc16(data: bytes) -> int:
    """CRC-16/ARC (reflected 0x8005, initial 0), the checksum the BX SDK computes."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def area_data(text: str, style: AreaStyle) -> bytes:
    """The area record: geometry, motion and the GBK text."""
    content = text.encode("gbk", errors="replace")
    record = struct.pack(
        "<BHHHHBBBH3sBBBBBBI",
        0,  # area type: dynamic text
        style.x,
        style.y,
        style.width,
        style.height,
        style.area_id,
        0,  # line spacing
        0,  # loop mode
        style.timeout_seconds,
        b"\0\0\0",
        style.single_line,
        style.auto_wrap,
        style.display_mode,
        style.exit_mode,
        style.speed,
        style.stay,
        len(content),
    )
    return record + content


def unframed(text: str, style: AreaStyle, address: int = 1) -> bytes:
    """Header and data of the frame, before the checksum and the escapes."""
    area = area_data(text, style)
    data = bytes(DYNAMIC_AREA) + COMMAND_FLAGS + bytes([1]) + struct.pack("<H", len(area)) + area
    header = struct.pack(
        "<HH6sBBH",
        address,
        SOURCE_ADDRESS,
        b"\0" * 6,
        DEVICE_TYPE_ANY,
        PROTOCOL_VERSION,
        len(data),
    )
    return header + data


def frame(text: str, style: AreaStyle | None = None, address: int = 1) -> bytes:
    """The whole frame that shows `text` in one dynamic area of the controller at `address`."""
    body = unframed(text, style or AreaStyle(), address)
    body += struct.pack("<H", crc16(body))
    return WAKE_UP + b"".join(_ESCAPES.get(b, bytes([b])) for b in body) + TAIL
