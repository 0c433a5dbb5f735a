"""The OpenAPI document refuses two different schemas under one component name."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from server.openapi import _register


def _model(field: str) -> type[BaseModel]:
    """A model class named RightsOut with one field."""
    return type("RightsOut", (BaseModel,), {"__annotations__": {field: int}})


def test_one_name_for_two_schemas_is_refused() -> None:
    schemas: dict[str, Any] = {}
    assert _register(_model("items"), schemas) == "RightsOut"
    assert _register(_model("items"), schemas) == "RightsOut"  # the same schema again is fine
    with pytest.raises(ValueError, match="RightsOut"):
        _register(_model("rights"), schemas)


def test_the_whole_document_builds_with_unique_names() -> None:
    from config.settings import Settings
    from server.app import OPENAPI_KEY, create_app

    document = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))[OPENAPI_KEY]
    assert {"HeldRightsOut", "RightsOut", "Error"} <= set(document["components"]["schemas"])
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert operations and all("5XX" in op["responses"] for op in operations)
