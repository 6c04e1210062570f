"""Unit tests of small, intricate pieces: id parsing, time rendering, scopes, rate limiting,
the error tree and the id allocator."""

from __future__ import annotations

from pathlib import Path

import pytest

from dingstore import errors
from dingstore.api import ratelimit
from dingstore.clock import iso
from dingstore.service import scopes, tree
from dingstore.store import database, ids


@pytest.mark.parametrize("text", ["1", "10000000001", str(2**63 - 1)])
def test_task_ids_accepted(text: str) -> None:
    assert tree.parse_id(text, "taskId") == int(text)


@pytest.mark.parametrize("text", ["", "0", "-5", "+5", " 5", "5 ", "1e3", str(2**63), "²"])
def test_task_ids_refused(text: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        tree.parse_id(text, "taskId")
    assert info.value.code == "paramError.taskId"


def test_iso_is_utc_with_z() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(1_659_106_500_999) == "2022-07-29T14:55:00Z"
    assert iso(None) is None


def test_scopes_parse() -> None:
    assert scopes.parse(None) == scopes.ALL
    assert scopes.parse("Storage.Task.Read, Storage.File.Read,Storage.Task.Read") == (
        "Storage.Task.Read",
        "Storage.File.Read",
    )
    with pytest.raises(ValueError, match=r"Storage\.Bogus"):
        scopes.parse("Storage.Bogus")


def test_rate_limiter_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    limiter = ratelimit.RateLimiter(0, {"GetTask": 2})
    assert limiter.enabled
    limiter.check("app", "GetTask")
    limiter.check("app", "GetTask")
    with pytest.raises(errors.Forbidden) as info:
        limiter.check("app", "GetTask")
    assert info.value.code == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    limiter.check("other-app", "GetTask")  # budgets are per app
    limiter.check("app", "AddSpace")  # and per operation (this one unlimited)
    now[0] += 0.5  # half a second refills one token at 2 QPS
    limiter.check("app", "GetTask")
    with pytest.raises(errors.Forbidden):
        limiter.check("app", "GetTask")
    assert not ratelimit.RateLimiter(0, {}).enabled


def test_error_bodies() -> None:
    denied = errors.ScopeDenied(["Storage.Task.Read"])
    assert denied.status == 403
    assert denied.body() == {
        "code": "Forbidden.AccessDenied.AccessTokenPermissionDenied",
        "message": "the app lacks the required scopes: Storage.Task.Read",
        "accessdenieddetail": {"requiredScopes": ["Storage.Task.Read"]},
    }
    assert errors.param_error("taskId", "bad").code == "paramError.taskId"
    assert errors.param_error(None, "bad").code == "paramError"
    assert (errors.Unavailable().status, errors.Unavailable().code) == (503, "operationTimeout")
    assert isinstance(errors.Conflict(), errors.BadRequest)


async def test_id_allocator_hands_out_disjoint_ids(tmp_path: Path) -> None:
    db = await database.open_database(f"sqlite+aiosqlite:///{tmp_path / 'ids.db'}")
    try:
        one, two = ids.IdAllocator(db, block=3), ids.IdAllocator(db, block=3)
        seen = [await one.next() for _ in range(5)] + [await two.next() for _ in range(5)]
        first = await one.reserve(100)
        assert len(set(seen)) == 10
        assert all(x >= 10_000_000_000 for x in seen)
        assert not set(range(first, first + 100)) & set(seen)
    finally:
        await db.close()


def test_public_url_defaults() -> None:
    from dingstore.settings import Settings

    assert Settings(host="10.1.2.3", port=9).resolved_public_url == "http://10.1.2.3:9"
    assert Settings(host="0.0.0.0", port=9).resolved_public_url == "http://127.0.0.1:9"
    assert Settings(public_url="https://drive.example/").resolved_public_url == (
        "https://drive.example"
    )
