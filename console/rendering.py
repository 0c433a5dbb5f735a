"""Rendering console pages: the template environment, filters and the common context."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console.menu import sections_for
from console.session import CSRF_KEY, IDENTITY_KEY
from core.billing import SHANGHAI
from core.money import format_yuan
from core.staff import ROLE_NAMES_ZH

TEMPLATES = Path(__file__).with_name("templates")


def _local(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def setup_templates(app: web.Application) -> None:
    """Attach the Jinja environment (autoescaped) to the console app."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["yuan"] = format_yuan
    env.filters["local"] = _local


def _common(request: web.Request) -> dict[str, Any]:
    staff = request.get(IDENTITY_KEY)
    return {
        "staff": staff,
        "role_name": ROLE_NAMES_ZH[staff.role] if staff else "",
        "sections": sections_for(staff) if staff else [],
        "csrf": request.get(CSRF_KEY, ""),
        "path": request.path,
        "query": request.query,
    }


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """Render a template with the common context."""
    # The common context is merged here rather than by aiohttp_jinja2's context processors,
    # whose middleware stores a plain string key on the request (a NotAppKeyWarning).
    merged = {**_common(request), **context}
    return aiohttp_jinja2.render_template(template, request, merged, status=status)


def see_other(location: str) -> web.Response:
    """A 303 to another console page (Post/Redirect/Get)."""
    return web.Response(status=303, headers={"Location": location})
