"""Safe headers on every console answer: a strict content security policy, no framing."""

from __future__ import annotations

from aiohttp import web

from console.session import cookie_secure
from server.resources import SETTINGS_KEY

# No inline script or style anywhere: htmx and console.js are files served from /console/static/.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


async def stamp_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add the safe headers to any answer, streams and errors too; pages are never cached."""
    response.headers.update(HEADERS)
    if not request.path.startswith("/console/static/"):
        response.headers["Cache-Control"] = "no-store"
    if cookie_secure(request.config_dict[SETTINGS_KEY]):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
