"""Guidance sign formats: the project's own JSON and the Onbon BX dynamic-area frame."""

from __future__ import annotations

import json

from core.guidance import SignConfig, SignFormat, SignLine, SignMessage, line_text
from device_bridge.formats import onbon_bx


class OwnJsonSign:
    """`{sign, lines: [{label, free, total, text}]}` for signs or gateways that draw their own."""

    def render(self, sign: SignConfig, lines: tuple[SignLine, ...]) -> SignMessage:
        """The lines as JSON."""
        body = {
            "sign": sign.code,
            "lines": [
                {"label": ln.label, "free": ln.free, "total": ln.total, "text": line_text(ln)}
                for ln in lines
            ],
        }
        return SignMessage(json.dumps(body, ensure_ascii=False).encode(), "application/json")


class OnbonBxSign:
    """One BX dynamic area holding every line, for a controller behind a network gateway."""

    def render(self, sign: SignConfig, lines: tuple[SignLine, ...]) -> SignMessage:
        """The lines, one per row, in a BX frame."""
        options = sign.options
        style = onbon_bx.AreaStyle(
            width=int(options.get("width", 128)),
            height=int(options.get("height", 32)),
            single_line=1 if len(lines) == 1 else 2,
        )
        text = "\n".join(line_text(ln) for ln in lines)
        frame = onbon_bx.frame(text, style, int(options.get("controller_address", 1)))
        return SignMessage(frame, "application/octet-stream")


SIGN_FORMATS: dict[str, SignFormat] = {"own_json": OwnJsonSign(), "onbon_bx": OnbonBxSign()}
