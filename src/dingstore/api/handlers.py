"""Exception handlers: every failure leaves as ``{"code","message","requestid"}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match, Route

from dingstore import errors
from dingstore.api import responses
from dingstore.api.middleware import request_id_of
from dingstore.api.validation import validation_error

log = logging.getLogger(__name__)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path: Starlette's 405 names only
    those of the first route whose path matched."""
    scope = {**request.scope, "method": ""}  # matched by path alone
    found: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] != Match.NONE:
            found |= route.methods
    return sorted(found)


def install(app: FastAPI) -> None:
    async def on_dingstore_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.DingstoreError)
        return responses.error(exc, request_id_of(request.scope))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        error = validation_error(exc.errors(), location_prefix=1)
        return responses.error(error, request_id_of(request.scope))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error: errors.DingstoreError
        if exc.status_code == 404:
            error = errors.NOT_FOUND.error(f"no such API: {request.method} {request.url.path}")
        elif exc.status_code == 405:
            error = errors.METHOD_NOT_ALLOWED.error(
                f"{request.method} is not allowed on {request.url.path}"
            )
        else:  # Starlette raises only 404 and 405; no route of ours raises an HTTPException
            log.error("unexpected HTTPException %s: %s", exc.status_code, exc.detail)
            error = errors.SYSTEM_ERROR.error()
        response = responses.error(error, request_id_of(request.scope))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    app.add_exception_handler(errors.DingstoreError, on_dingstore_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
