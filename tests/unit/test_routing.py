"""The lean parts of api/routing.py against what they stand for: ``query_value`` against
Starlette's query parser, and ``RouteIndex`` against the router's own walk of its table."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.routing import Match

from dingstore.api.app import create_app
from dingstore.api.routing import RouteIndex, query_value
from dingstore.settings import Settings

QUERIES = [
    b"",
    b"unionId=abc",
    b"unionId=",
    b"unionId",
    b"a=1&unionId=x&unionId=y",
    b"unionId=a=b",
    b"&&unionId=z&",
    b"unionid=q",
    b"unionId=%41%e4%b8%ad",
    b"unionId=a+b",
    b"unionId=\xc3\xa9",
    b"x=1;unionId=2",
    b"unionId=1;x=2",
]


@pytest.mark.parametrize("query", QUERIES)
def test_query_value_is_starlettes_last_value(query: bytes) -> None:
    def request() -> Request:
        return Request({"type": "http", "query_string": query, "headers": []})

    assert query_value(request(), "unionId") == request().query_params.get("unionId")


PATHS = [
    "/healthz",
    "/openapi.json",
    "/v1.0/storage/tasks/123",
    "/v1.0/storage/tasks/",
    "/v1.0/storage/spaces",
    "/v1.0/storage/spaces/1",
    "/v1.0/storage/spaces/1/dentries",
    "/v1.0/storage/spaces/1/dentries/2/versions/3/revert",
    "/v1.0/storage/spaces/files/multiPartUploadInfos/query",
    "/v1.0/storage/recycleBins/4/recycleItems/batchRestore",
    "/_blobs/a/b/c",
    "/nowhere",
    "/",
    "",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_route_index_finds_the_routes_the_walk_finds(tmp_path, path: str, method: str) -> None:  # type: ignore[no-untyped-def]
    router = create_app(Settings(data_dir=tmp_path)).router
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    walked = [r for r in router.routes if r.matches(scope)[0] is not Match.NONE]
    candidates = RouteIndex(router).candidates(path)
    assert [r for r in candidates if r.matches(scope)[0] is not Match.NONE] == walked
