"""How endpoints run: FastAPI documents each route from its signature, and ``ApiRoute`` runs it
with a lean handler built once from that same signature.

FastAPI's per-request dependency solving costs tens of microseconds a parameter (the token
header, ``unionId``, a path id) — more than the whole rest of a GetTask (bench/get_task.py).
``ApiRoute`` supports the few parameter kinds our endpoints use and nothing else, and fails at
start-up on any other. It runs that handler as a plain ASGI app: FastAPI's wrapper around a
route opens two exit stacks a request for dependencies with ``yield`` (we have none) and
handles exceptions that ``ExceptionMiddleware`` handles the same way one layer out. And it tells
a path that cannot be its own by the path's literal start, before any regular expression: a
request is matched against every route ahead of its own in the table (GetTask has 26).

The parameter kinds:

* ``request: Request`` (its app's services: ``services(request)``)
* ``caller: Caller = operation("GetTask", "Storage.Task.Read")`` — auth, scope, rate limit,
  operator; run before any other parameter, so that no body is read before the token is checked
* ``caller: AppCaller = app_operation("PullEvents", "Storage.Event.Write")`` — the same without
  an operator (no ``unionId``), for dingstore's own operations on what the app itself owns
* a path parameter ``taskId: str``, or of another type (``version: Annotated[int, Path(ge=1)]``)
  validated as the hint says
* ``body: Annotated[Model, Body()]`` — the JSON body, validated by the pydantic model
* ``query: Annotated[Model, Query()]`` — query parameters, validated by the pydantic model

Validation failures become ``paramError.<field>`` exactly as FastAPI's would (api/handlers.py).

Two options change how a DingTalk API route (``/v1.0/...``) runs, both off unless the app sets
``App.hooks`` (``serve --strict``, ``serve --test-mode``): strict mode answers a body field or
query parameter the operation does not take with ``400 paramError`` (``strict.py``), and test
mode lets an injected fault answer for the operation (service/testmode/faults.py), right after
the caller is admitted (so a fault can be per org). Without hooks, a request pays one attribute
read for them.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import Body, Depends, Query, Request
from fastapi import params as fastapi_params
from fastapi.routing import APIRoute, APIRouter
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dingstore import errors
from dingstore.api import responses, schemas, strict
from dingstore.api.middleware import request_id_of
from dingstore.api.validation import refuse_nul, validation_error
from dingstore.service import models
from dingstore.service.container import Services

TOKEN_HEADER = "x-acs-dingtalk-access-token"
_token_header = APIKeyHeader(
    name=TOKEN_HEADER,
    auto_error=False,
    description="The app's access token: the accessToken of POST /v1.0/oauth2/accessToken "
    "(GetAccessToken) or /v1.0/oauth2/corpAccessToken (GetCorpAccessToken).",
)


Caller = models.Actor
AppCaller = models.Principal

# The API's own paths, where strict mode applies (not the data plane, WOPI, previews, ...).
API_PREFIX = "/v1.0/"


@dataclass(frozen=True, slots=True)
class Hooks:
    """What an app turned on beyond the API's ordinary behaviour (``App.hooks``)."""

    strict: bool = False  # unknown body fields and query parameters: 400 paramError
    faults: bool = False  # test mode: injected faults answer for operations


def services(request: HTTPConnection) -> Services:
    """The services the app opened in its lifespan (api/app.py), typed (for a request or a
    WebSocket)."""
    found: Services = request.app.state.services
    return found


def query_value(request: Request, name: str) -> str | None:
    """``request.query_params.get(name)`` (its last value) without Starlette's parse of the
    whole query: a query with no escapes (``%``, ``+``) is split here, any other parsed."""
    raw: bytes = request.scope["query_string"]
    if b"%" in raw or b"+" in raw:
        return request.query_params.get(name)
    found = None
    for pair in raw.decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            found = value
    return found


async def admit_app(request: Request, name: str, scope: str) -> AppCaller:
    """Check, in order: the access token, the app's rate limit for ``name`` and its ``scope``
    (docs/auth.md)."""
    svc = services(request)
    principal = await svc.tokens.authenticate(request.headers.get(TOKEN_HEADER))
    request.app.state.rate_limiter.check(principal.app_id, name)
    if scope not in principal.scopes:
        raise errors.ScopeDenied([scope])
    return principal


async def admit(request: Request, name: str, scope: str) -> Caller:
    """``admit_app``, then the operator named by ``unionId`` (docs/auth.md)."""
    svc = services(request)
    principal = await admit_app(request, name, scope)
    union_id = query_value(request, "unionId")
    if not union_id:
        raise errors.PARAM_ERROR.error("unionId is required")
    if "\x00" in union_id:
        raise errors.param_error("unionId", "unionId may not contain U+0000")
    operator = await svc.identity.operator(principal.corp_id, union_id)
    return Caller(principal, operator, svc.clock)


def operation(name: str, scope: str) -> Any:
    """The ``caller`` parameter of a storage endpoint: operation ``name``, needing ``scope``."""

    async def documented(
        request: Request,
        union_id: Annotated[str, Query(alias="unionId", description="the operator's unionId")],
        token: Annotated[str | None, Depends(_token_header)] = None,
    ) -> Caller:
        return await admit(request, name, scope)

    documented.operation = (name, scope, admit)  # type: ignore[attr-defined]
    return Depends(documented)


def app_operation(name: str, scope: str) -> Any:
    """The ``caller`` parameter of an endpoint that acts for the app alone (no operator, no
    ``unionId``): operation ``name``, needing ``scope``."""

    async def documented(
        request: Request,
        token: Annotated[str | None, Depends(_token_header)] = None,
    ) -> AppCaller:
        return await admit_app(request, name, scope)

    documented.operation = (name, scope, admit_app)  # type: ignore[attr-defined]
    return Depends(documented)


# A parameter's value from the request: a coroutine function if it must wait (the caller, a
# body), a plain one if not (a path parameter, the query): a coroutine costs ~1 µs.
Getter = Callable[[Request], Any]


def _request(request: Request) -> Request:
    return request


def _path_getter(name: str, hint: Any) -> Getter:
    def get(request: Request) -> str:
        return request.path_params[name]  # type: ignore[no-any-return]

    if hint is str:
        return get
    adapter = TypeAdapter(hint)

    def parse(request: Request) -> Any:
        try:
            return adapter.validate_python(request.path_params[name])
        except ValidationError as exc:
            problem = exc.errors()[0].get("msg", "invalid")
            raise errors.param_error(name, f"{name}: {problem}") from None

    return parse


def _required(model: Any) -> bool:
    """Whether a body of type ``model`` must be sent: it has a required field."""
    fields = getattr(model, "model_fields", {})
    return any(field.is_required() for field in fields.values())


def _model_getter(model: type[BaseModel], source: str, *, strictly: bool = False) -> Getter:
    required = _required(model)

    async def from_body(request: Request) -> BaseModel:
        raw = await request.body()
        try:
            if not raw.strip():
                if required:
                    raise errors.MISSING_BODY.error("body is mandatory for this action")
                return model.model_validate({})
            parsed = model.model_validate_json(raw)
        except ValidationError as exc:
            raise validation_error(exc.errors()) from None
        if strictly:
            strict.refuse_unknown_fields(model, raw)
        refuse_nul(parsed)
        return parsed

    def from_query(request: Request) -> BaseModel:
        try:
            parsed = model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise validation_error(exc.errors()) from None
        refuse_nul(parsed)
        return parsed

    return from_body if source == "body" else from_query


def _query_names(model: type[BaseModel]) -> set[str]:
    """The query parameters a query model takes: each field's alias, and its name."""
    names = set()
    for name, info in model.model_fields.items():
        names |= {name, info.alias or name}
    return names


def _admits(param: inspect.Parameter) -> bool:
    """Whether ``param`` is a ``caller``: it checks the token (``operation``)."""
    default = param.default
    return isinstance(default, fastapi_params.Depends) and hasattr(default.dependency, "operation")


def _getter(
    route: APIRoute, name: str, param: inspect.Parameter, hint: Any, *, strictly: bool = False
) -> Getter:
    default = param.default
    if hint is Request:
        return _request
    if isinstance(default, fastapi_params.Depends):
        marked = getattr(default.dependency, "operation", None)
        if marked is not None:
            op_name, scope, admits = marked

            async def caller(request: Request) -> Caller | AppCaller:
                return await admits(request, op_name, scope)  # type: ignore[no-any-return]

            return caller
    if name in route.param_convertors:
        return _path_getter(name, hint)
    if get_origin(hint) is Annotated:
        model, *marks = get_args(hint)
        for mark in marks:
            if isinstance(mark, fastapi_params.Body):
                return _model_getter(model, "body", strictly=strictly)
            if isinstance(mark, fastapi_params.Query):
                return _model_getter(model, "query")
    raise TypeError(
        f"{route.endpoint.__qualname__}: parameter {name!r} is not a kind ApiRoute runs"
    )


def api_router(
    prefix: str = "",
    *,
    tags: list[str],
    errors_documented: bool = True,
    include_in_schema: bool = True,
) -> APIRouter:
    """A router of ``ApiRoute``s, each named (and so identified in OpenAPI) by its operation."""
    return APIRouter(
        prefix=prefix,
        include_in_schema=include_in_schema,
        tags=list(tags),
        route_class=ApiRoute,
        responses=schemas.ERRORS if errors_documented else None,
        generate_unique_id_function=lambda route: route.name,
    )


def _asgi(handle: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handle(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


class ApiRoute(APIRoute):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # OpenAPI's summary: the DingTalk operation's name (FastAPI's would be "Gettask").
        self.summary = self.summary or self.name
        body = self.body_field
        if body is not None and not _required(body.field_info.annotation):
            # A body of optional fields may be left out (``_model_getter``): say so in OpenAPI.
            body.field_info.default = None
        self._literal = self.path_format.split("{", 1)[0]
        self.app = _asgi(self.get_route_handler())

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.methods or scope["method"] in self.methods:  # one frame, not two
            await self.app(scope, receive, send)
        else:  # 405
            await super().handle(scope, receive, send)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        http = scope["type"] == "http" and not scope.get("root_path")
        if http and not scope["path"].startswith(self._literal):
            return Match.NONE, {}
        return super().matches(scope)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        hints = get_type_hints(endpoint, include_extras=True)
        params = inspect.signature(endpoint).parameters.items()
        plan, strict_plan = [], []
        caller_name = None
        queries: set[str] = set()  # the query parameters strict mode lets through
        # The caller first: no body is read for a request whose token fails.
        for name, param in sorted(params, key=lambda item: not _admits(item[1])):
            hint = hints.get(name)
            get = _getter(self, name, param, hint)
            plan.append((name, get, inspect.iscoroutinefunction(get)))
            get = _getter(self, name, param, hint, strictly=True)
            strict_plan.append((name, get, inspect.iscoroutinefunction(get)))
            if _admits(param):
                caller_name = name
                if param.default.dependency.operation[2] is admit:
                    queries.add("unionId")
            elif get_origin(hint) is Annotated:
                model, *marks = get_args(hint)
                if any(isinstance(m, fastapi_params.Query) for m in marks):
                    queries |= _query_names(model)
        checks_query = self.path_format.startswith(API_PREFIX)
        if not checks_query:
            strict_plan = plan
        operation_name = self.name

        async def handle(request: Request) -> Response:
            hooks = request.app.hooks
            if hooks is not None:
                return await hooked(request, hooks)
            kwargs = {}
            for name, get, awaited in plan:
                kwargs[name] = await get(request) if awaited else get(request)
            return await endpoint(**kwargs)  # type: ignore[no-any-return]

        async def hooked(request: Request, hooks: Hooks) -> Response:
            steps = strict_plan if hooks.strict else plan
            kwargs: dict[str, Any] = {}
            if caller_name is not None:  # admitted first, as above
                name, get, _ = steps[0]
                kwargs[name] = await get(request)
            if hooks.faults:
                corp_id = kwargs[caller_name].corp_id if caller_name is not None else None
                fired = await _fault(request, operation_name, corp_id)
                if fired is not None:
                    return fired
            if hooks.strict and checks_query:
                strict.refuse_unknown_query(request.query_params.keys(), queries)
            for name, get, awaited in steps:
                if name not in kwargs:
                    kwargs[name] = await get(request) if awaited else get(request)
            return await endpoint(**kwargs)  # type: ignore[no-any-return]

        return handle


async def _fault(request: Request, operation_name: str, corp_id: str | None) -> Response | None:
    """The answer of an injected fault that fires for this call, after its delay; None when
    none fires, or one only delayed the call (test mode)."""
    controls = services(request).test_controls
    if controls is None or not controls.faults:
        return None
    fired = controls.faults.take(operation_name, corp_id)
    if fired is None:
        return None
    if fired.delay_ms:
        await asyncio.sleep(fired.delay_ms / 1000)
    if fired.code is None:
        return None
    body = {"code": fired.code, "message": fired.message, "requestid": request_id_of(request.scope)}
    return responses.JSON(body, status_code=fired.status)


class RouteIndex:
    """The router's table, looked up by the request path's literal start before any route is
    tried: a request is matched only against the routes that could take it, in table order, so
    the route that answers is the one the router's own walk would find. GetTask was otherwise
    matched against the 26 routes ahead of it (~15 µs). A request no route takes (404, a
    redirect to the path with or without a trailing slash, ...) goes to the router whole."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._indexed = -1  # how many routes the index holds; it is made again if that changes
        self._by_literal: dict[str, list[tuple[int, BaseRoute]]] = {}
        self._anywhere: list[tuple[int, BaseRoute]] = []

    def _index(self) -> None:
        routes = self.router.routes
        self._indexed = len(routes)
        self._by_literal, self._anywhere = {}, []
        for position, route in enumerate(routes):
            path = getattr(route, "path_format", None)
            literal = path.split("{", 1)[0] if isinstance(route, Route) and path else None
            # A route is looked up by its path if it has no parameter, by the start up to its
            # first parameter if that ends a segment; any other is tried on every request.
            if literal is not None and (literal == path or literal.endswith("/")):
                self._by_literal.setdefault(literal, []).append((position, route))
            else:
                self._anywhere.append((position, route))

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes whose literal start is ``path`` or one of its leading segments, in table
        order: every other route answers ``Match.NONE``."""
        if self._indexed != len(self.router.routes):
            self._index()
        by_literal = self._by_literal
        found = list(self._anywhere)
        end = path.find("/")
        while end != -1:
            found += by_literal.get(path[: end + 1], ())
            end = path.find("/", end + 1)
        found += by_literal.get(path, ())
        if len(found) > 1:
            found.sort(key=_position)
        return [route for _, route in found]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            partial = None
            for route in self.candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL or (match is Match.PARTIAL and partial is None):
                    partial = route, child_scope
                    if match is Match.FULL:
                        break
            if partial is not None:
                route, child_scope = partial
                scope.setdefault("router", self.router)
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await self.router(scope, receive, send)


def _position(item: tuple[int, BaseRoute]) -> int:
    return item[0]


__all__ = [
    "AppCaller",
    "Body",
    "Caller",
    "Query",
    "admit",
    "admit_app",
    "app_operation",
    "operation",
    "services",
]
