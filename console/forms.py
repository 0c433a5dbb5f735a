"""Reading console forms and query strings into the /ops/ schemas they share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from console.session import CSRF_FIELD
from server.http import parse_model

M = TypeVar("M", bound=BaseModel)


def _filled(values: Mapping[str, object]) -> dict[str, str]:
    # An empty form field means "not given", as an absent JSON key does on /ops/.
    return {
        key: value.strip()
        for key, value in values.items()
        if isinstance(value, str) and value.strip() and key != CSRF_FIELD
    }


def query_of(request: web.Request, model: type[M]) -> M:
    """The query string validated against a schema (400 page on bad input)."""
    return parse_model(model, _filled(request.query))


async def form_of(request: web.Request, model: type[M]) -> M:
    """The posted form validated against a schema (400 page on bad input)."""
    return parse_model(model, _filled(await request.post()))


def filled_query(request: web.Request) -> dict[str, str]:
    """The query string's non-empty values, to refill a filter form."""
    return _filled(request.query)
