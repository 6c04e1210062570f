"""GetTask (spec §6 E.22) through the official SDK, field by field, and who may read a task."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from dingstore.clock import now_ms
from tests import enqueued
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk, http

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    """No workers: the tasks here are written by hand, with the progress each test sets, and
    must stay so (a worker would claim them at once)."""
    return make_server(workers=0)


def make_task(server: LiveServer, corp_id: str, creator_id: str, **progress: Any) -> str:
    """Write a task row the way a request's transaction does, then set its progress."""
    copy = enqueued.payload("copy")
    return str(server.run(enqueued.enqueue(server.services, corp_id, creator_id, copy, **progress)))


def raw_task(server: LiveServer, token: str, task_id: str, union_id: str) -> dict[str, Any]:
    response = http.get(
        f"{server.url}/v1.0/storage/tasks/{task_id}",
        params={"unionId": union_id},
        headers={"x-acs-dingtalk-access-token": token},
    )
    assert response.status_code == 200
    return response.json()["task"]  # type: ignore[no-any-return]


def test_new_task_has_only_the_fields_it_has_values_for(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    task_id = make_task(server, tenant.corp_id, tenant.admin_id)
    task = sdk.get_task(tenant.token, task_id, tenant.admin_id).body.task
    assert (task.id, task.status, task.success_count, task.fail_count) == (task_id, "INIT", 0, 0)
    assert task.total_count is None and task.begin_time is None and task.end_time is None
    assert raw_task(server, tenant.token, task_id, tenant.admin_id) == {
        "id": task_id,
        "status": "INIT",
        "successCount": 0,
        "failCount": 0,
    }


def test_running_and_finished_tasks(server: LiveServer, sdk: Sdk, tenant: Tenant) -> None:
    begin, end = 1_700_000_000_000, 1_700_000_065_000
    running = make_task(
        server,
        tenant.corp_id,
        tenant.admin_id,
        status="IN_PROGRESS",
        total_count=10,
        success_count=4,
        fail_count=1,
        begin_time=begin,
    )
    task = sdk.get_task(tenant.token, running, tenant.admin_id).body.task
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "IN_PROGRESS",
        10,
        4,
        1,
    )
    assert task.begin_time == "2023-11-14T22:13:20Z" and task.end_time is None

    failed = make_task(
        server,
        tenant.corp_id,
        tenant.admin_id,
        status="FAIL",
        total_count=10,
        success_count=7,
        fail_count=3,
        fail_message="permissionDenied",
        begin_time=begin,
        end_time=end,
    )
    body = raw_task(server, tenant.token, failed, tenant.admin_id)
    assert body == {
        "id": failed,
        "status": "FAIL",
        "totalCount": 10,
        "successCount": 7,
        "failCount": 3,
        "failMessage": "permissionDenied",
        "beginTime": "2023-11-14T22:13:20Z",
        "endTime": "2023-11-14T22:14:25Z",
    }
    assert ISO_Z.match(body["beginTime"]) and ISO_Z.match(body["endTime"])


@pytest.mark.parametrize("bad_id", ["abc", "-1", "0", "1.5", "99999999999999999999", "١٢٣"])
def test_malformed_task_id(sdk: Sdk, tenant: Tenant, bad_id: str) -> None:
    err = sdk_error(lambda: sdk.get_task(tenant.token, bad_id, tenant.admin_id))
    assert (err.statusCode, err.code) == (400, "paramError.taskId")


def test_unknown_task_and_another_orgs_task_are_both_404(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    other = new_tenant(server, sdk)
    theirs = make_task(server, other.corp_id, other.admin_id)
    assert sdk.get_task(other.token, theirs, other.admin_id).body.task.id == theirs
    for task_id in ("12345", theirs):
        err = sdk_error(lambda t=task_id: sdk.get_task(tenant.token, t, tenant.admin_id))
        assert (err.statusCode, err.code) == (404, "taskNotExist")


def test_only_the_creator_and_org_admins_may_read(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    identity = server.services.identity
    bob = server.run(identity.create_user(tenant.corp_id, "bob"))
    carol = server.run(identity.create_user(tenant.corp_id, "carol"))
    task_id = make_task(server, tenant.corp_id, bob.union_id)

    assert sdk.get_task(tenant.token, task_id, bob.union_id).body.task.id == task_id
    assert sdk.get_task(tenant.token, task_id, tenant.admin_id).body.task.id == task_id
    err = sdk_error(lambda: sdk.get_task(tenant.token, task_id, carol.union_id))
    assert (err.statusCode, err.code) == (403, "permissionDenied")


def test_finished_tasks_go_after_their_retention(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(task_retention_days=1, workers=0)
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    day = 86_400_000
    now = now_ms()
    old = make_task(
        server, tenant.corp_id, tenant.admin_id, status="SUCCESS", end_time=now - 2 * day
    )
    recent = make_task(server, tenant.corp_id, tenant.admin_id, status="FAIL", end_time=now)
    running = make_task(server, tenant.corp_id, tenant.admin_id, status="IN_PROGRESS")
    removed = server.run(server.services.housekeeper.sweep())
    assert removed["tasks"] == 1
    err = sdk_error(lambda: sdk.get_task(tenant.token, old, tenant.admin_id))
    assert err.code == "taskNotExist"
    for task_id in (recent, running):
        assert sdk.get_task(tenant.token, task_id, tenant.admin_id).body.task.id == task_id
