"""The one error a unique rule broken by a concurrent writer becomes, wherever it is caught."""

from __future__ import annotations

from core.errors import ConflictError


class StoreConflictError(ConflictError):
    """A concurrent transaction wrote the same unique thing first."""

    code = "concurrent_update"
    message_zh = "数据已被修改，请重试"
