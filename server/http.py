"""The HTTP toolkit every adapter shares: declared endpoints, validation and JSON errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic_core
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from core.errors import DomainError, ValidationFailedError
from server import input_limits

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]
Authorizer = Callable[[web.Request, str], Awaitable[None]]

AUTHORIZER_KEY: web.AppKey[Authorizer] = web.AppKey("authorizer")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One declared route: what it takes, what it answers and who may call it."""

    method: str
    path: str
    summary: str
    handler: Handler
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    permission: str | None = None
    status: int = 200


class UnsupportedMediaTypeError(DomainError):
    """A body that is not declared as JSON where only JSON is taken."""

    code = "unsupported_media_type"
    status = 415
    message_zh = "请求内容须为 JSON（Content-Type: application/json）"


class ApiRoutes:
    """A list of endpoints that validates input and enforces staff permissions."""

    def __init__(self, tag: str, *, signed: bool = False) -> None:
        self.tag = tag
        self.signed = signed  # every route is signed by a lot's key (the networking API)
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        permission: str | None = None,
        status: int = 200,
    ) -> Callable[[Handler], Handler]:
        """Declare a handler `(request, params)`; params is the validated body or query, and
        `status` the success status the handler answers (documented in OpenAPI)."""

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(method, path, summary, handler, body, query, response, permission, status)
            )
            return handler

        return register

    def install(self, app: web.Application) -> None:
        """Add every endpoint to an application."""
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, _wrap(endpoint))


def _wrap(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if endpoint.permission is not None:
            await request.config_dict[AUTHORIZER_KEY](request, endpoint.permission)
        for name, value in request.match_info.items():
            input_limits.check_scalar(value, name)
        params: BaseModel | None = None
        if endpoint.body is not None:
            params = parse_model(endpoint.body, await read_json(request))
        elif endpoint.query is not None:
            params = parse_model(endpoint.query, dict(request.query))
        return await endpoint.handler(request, params)

    return handle


def is_json(content_type: str) -> bool:
    """Whether a media type (without parameters) declares JSON."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def read_json(request: web.Request) -> Any:
    """The request body as JSON within the input limits, or a 4xx naming the problem."""
    if not is_json(request.content_type):
        raise UnsupportedMediaTypeError(detail=request.content_type)
    return input_limits.loads(await request.read())


def parse_model(model: type[M], data: Any) -> M:
    """Validate data against a schema; errors name the fields in the message."""
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors())
        raise ValidationFailedError(f"请求参数有误：{fields}", detail=str(exc)) from None
    input_limits.check_model(parsed)
    return parsed


def json_response(model: BaseModel, *, status: int = 200) -> web.Response:
    """Serialise a response schema."""
    return web.Response(
        body=model.model_dump_json(), status=status, content_type="application/json"
    )


def shaped_json_response(shaped: object, *, status: int = 200) -> web.Response:
    """Serialise plain values already in a response schema's shape, as json_response would
    the schema: for hot routes, where building the schema's models costs more than the answer
    (each such shape has a test holding it to its schema)."""
    return web.Response(
        body=pydantic_core.to_json(shaped), status=status, content_type="application/json"
    )


def error_body(code: str, message: str) -> dict[str, str]:
    """The one error shape: a stable machine code and a Chinese message."""
    return {"code": code, "message": message}


def error_response(code: str, message: str, status: int, **more: str) -> web.Response:
    """An error as JSON with the Chinese left readable rather than escaped; `more` adds fields
    (the networking API's `message_en`)."""
    return web.Response(
        text=json.dumps(error_body(code, message) | more, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Translate domain and HTTP errors to `{code, message}` JSON, once, at the boundary."""
    try:
        return await handler(request)
    except DomainError as exc:
        if exc.status >= 500:
            log.error("domain error %s on %s: %s", exc.code, request.path, exc.detail)
        response = error_response(exc.code, exc.message_zh, exc.status)
        retry_after = getattr(exc, "retry_after_seconds", None)
        if isinstance(retry_after, int):  # a 429 or a lock: when to try again
            response.headers["Retry-After"] = str(retry_after)
        return response
    except web.HTTPNotFound:
        return error_response("not_found", "接口不存在", 404)
    except web.HTTPMethodNotAllowed:
        return error_response("method_not_allowed", "不支持该请求方法", 405)
    except web.HTTPRequestEntityTooLarge:
        return error_response("too_large", "请求内容过大", 413)
    except web.HTTPException:
        raise
    except PoolTimeoutError:
        # Every pooled connection stayed busy for the pool's timeout: overload, not a fault.
        log.warning("no free database connection for %s %s", request.method, request.path)
        return error_response("busy", "系统繁忙，请稍后再试", 503)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("internal_error", "系统繁忙，请稍后再试", 500)
