"""Operational endpoints: liveness with a database check, and Prometheus metrics."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from dingstore import errors
from dingstore.api import metrics, responses, schemas
from dingstore.api.routing import api_router

router = api_router(tags=["operations"], errors_documented=False)


@router.get("/healthz", response_model=schemas.Health)
async def healthz(request: Request) -> responses.JSON:
    if not await request.app.state.services.db.ping():
        raise errors.STORE_UNAVAILABLE.error("the database does not answer")
    return responses.ok(schemas.Health(status="ok"))


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def prometheus(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=metrics.CONTENT_TYPE)
