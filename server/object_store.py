"""The object store resource (appeal photos): local files under object_store_dir by default."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from adapters.local_files import LocalFileStore
from core.object_storage import ObjectStore
from server.resources import SETTINGS_KEY

OBJECT_STORE_KEY: web.AppKey[ObjectStore] = web.AppKey("object_store")


async def object_store_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the store, unless a test or deployment put another one in first."""
    if OBJECT_STORE_KEY not in app:
        app[OBJECT_STORE_KEY] = LocalFileStore(app[SETTINGS_KEY].object_store_dir)
    yield


def object_store(request: web.Request) -> ObjectStore:
    """The application's object store."""
    return request.config_dict[OBJECT_STORE_KEY]
