"""Typed keys of the resources the root application owns and every sub-app reads."""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from core.billing import DayCalendar
from core.clock import Clock
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork

SETTINGS_KEY = web.AppKey("settings", Settings)
DATABASE_KEY = web.AppKey("database", Database)
CLOCK_KEY = web.AppKey("clock", Clock)
CALENDAR_KEY = web.AppKey("calendar", DayCalendar)


def unit_of_work(request: web.Request) -> UnitOfWork:
    """A fresh unit of work for this request."""
    return UnitOfWork(request.config_dict[DATABASE_KEY].sessions)


def read_unit_of_work(request: web.Request) -> UnitOfWork:
    """A fresh read-only unit of work, for handlers that never write (some GETs do: a payment
    shown is first asked of WeChat Pay and settled)."""
    return UnitOfWork(request.config_dict[DATABASE_KEY].sessions, read_only=True)


def clock(request: web.Request) -> Clock:
    """The injected clock."""
    return request.config_dict[CLOCK_KEY]
