"""OpenAPI 3.1 document generated from the same schemas that validate requests."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from server.http import ApiRoutes, Endpoint

ROUTES_KEY = web.AppKey("routes", list[ApiRoutes])

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "stable machine code"},
        "message": {"type": "string", "description": "Chinese message for the user"},
    },
}


def build_openapi(mounted: list[tuple[str, list[ApiRoutes]]]) -> dict[str, Any]:
    """The document for route tables mounted under prefixes."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    for prefix, tables in mounted:
        for table in tables:
            for endpoint in table.endpoints:
                path = prefix.rstrip("/") + endpoint.path
                operation = _operation(table.tag, endpoint, schemas)
                if table.signed:
                    operation["security"] = [{"lotSignature": []}]
                paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "City smart-parking API",
            "version": "0.1.0",
            "description": "Coordinates are GCJ-02 (wx.getLocation type gcj02). Money is fen.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "staffToken": {"type": "http", "scheme": "bearer"},
                "lotSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Park-Signature",
                    "description": "HMAC-SHA256 of a networked lot's key with X-Park-App-Id, "
                    "X-Park-Timestamp and X-Park-Nonce (docs/networking.md)",
                },
            },
        },
    }


def _operation(tag: str, endpoint: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": [tag],
        "summary": endpoint.summary,
        "operationId": f"{tag}_{endpoint.handler.__name__}",
        "responses": {
            str(endpoint.status): _response(endpoint.response, schemas),
            "4XX": {"description": "error", "content": _json_ref("Error")},
            "5XX": {
                "description": "server error; 503 when a dependency is away (resend later)",
                "content": _json_ref("Error"),
            },
        },
    }
    path_params = [part[1:-1] for part in endpoint.path.split("/") if part.startswith("{")]
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path_params
    ]
    if endpoint.query is not None:
        parameters.extend(_query_parameters(endpoint.query))
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": _json_ref(_register(endpoint.body, schemas)),
        }
    if endpoint.permission is not None:
        operation["security"] = [{"staffToken": []}]
        operation["x-permission"] = endpoint.permission
    return operation


def _response(model: type[BaseModel] | None, schemas: dict[str, Any]) -> dict[str, Any]:
    if model is None:
        return {"description": "OK"}
    return {"description": "OK", "content": _json_ref(_register(model, schemas))}


def _register(model: type[BaseModel], schemas: dict[str, Any]) -> str:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, found in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        # Components are keyed by class name: two different schemas of one name would
        # silently describe one route with the other's schema.
        if schemas.setdefault(name, found) != found:
            raise ValueError(f"two different schemas are named {name!r}; rename one")
    return model.__name__


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _json_ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
