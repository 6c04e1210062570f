"""Test mode's controls over HTTP (``serve --test-mode``): ``/_dingstore/``, for suites in any
language (docs/testing.md, "HTTP controls"). The routes exist only in a test-mode app
(api/app.py); they take no token, which is why test mode binds loopback only. Each one calls
one method of ``TestControls`` (service/testmode/controls.py). Not in /openapi.json.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Request

from dingstore import errors
from dingstore.api import responses
from dingstore.api.routing import api_router, services
from dingstore.api.wire import testmode as wire
from dingstore.service.testmode.controls import TestControls

PREFIX = "/_dingstore/"

router = api_router(
    "/_dingstore", tags=["test mode"], errors_documented=False, include_in_schema=False
)


def controls(request: Request) -> TestControls:
    found = services(request).test_controls
    if found is None:  # a test-mode app on services opened without it
        raise errors.NOT_FOUND.error("test mode is off")
    return found


def done() -> responses.JSON:
    return responses.JSON({})


@router.post("/orgs", name="TestCreateOrg")
async def create_org(
    request: Request, body: Annotated[wire.CreateOrgRequest, Body()]
) -> responses.JSON:
    made = await controls(request).create_org(body.name)
    return responses.JSON(
        {
            "corpId": made.corp_id,
            "unionId": made.union_id,
            "appKey": made.app_key,
            "appSecret": made.app_secret,
        }
    )


@router.post("/orgs/{corpId}/users", name="TestAddUser")
async def add_user(
    corpId: str, request: Request, body: Annotated[wire.AddUserRequest, Body()]
) -> responses.JSON:
    union_id = await controls(request).add_user(corpId, body.name, admin=body.admin)
    return responses.JSON({"unionId": union_id})


@router.post("/orgs/{corpId}/apps", name="TestAddApp")
async def add_app(
    corpId: str, request: Request, body: Annotated[wire.AddAppRequest, Body()]
) -> responses.JSON:
    key, secret = await controls(request).add_app(
        corpId, body.name, body.scopes, app_key=body.app_key, app_secret=body.app_secret
    )
    return responses.JSON({"appKey": key, "appSecret": secret})


@router.post("/reset", name="TestReset")
async def reset(request: Request, body: Annotated[wire.ResetRequest, Body()]) -> responses.JSON:
    await controls(request).reset(body.corp_id)
    return done()


@router.post("/faults", name="TestInjectFault")
async def inject_fault(
    request: Request, body: Annotated[wire.FaultRequest, Body()]
) -> responses.JSON:
    fault_id = controls(request).inject_fault(
        body.operation,
        body.code,
        status=body.status,
        message=body.message,
        times=body.times,
        after=body.after,
        delay_ms=body.delay_ms,
        probability=body.probability,
        seed=body.seed,
        corp_id=body.corp_id,
    )
    return responses.JSON({"faultId": fault_id})


@router.get("/faults", name="TestListFaults")
async def list_faults(
    request: Request, query: Annotated[wire.CorpQuery, Query()]
) -> responses.JSON:
    return responses.JSON({"faults": controls(request).list_faults(query.corp_id)})


@router.delete("/faults", name="TestClearFaults")
async def clear_faults(
    request: Request, query: Annotated[wire.CorpQuery, Query()]
) -> responses.JSON:
    controls(request).clear_faults(query.corp_id)
    return done()


@router.delete("/faults/{faultId}", name="TestRemoveFault")
async def remove_fault(faultId: str, request: Request) -> responses.JSON:
    controls(request).remove_fault(faultId)
    return done()


@router.post("/tasks/pause", name="TestPauseTasks")
async def pause_tasks(
    request: Request, body: Annotated[wire.TasksRequest, Body()]
) -> responses.JSON:
    controls(request).pause_tasks(body.corp_id)
    return done()


@router.post("/tasks/resume", name="TestResumeTasks")
async def resume_tasks(
    request: Request, body: Annotated[wire.TasksRequest, Body()]
) -> responses.JSON:
    controls(request).resume_tasks(body.corp_id)
    return done()


@router.post("/tasks/step", name="TestStepTasks")
async def step_tasks(request: Request, body: Annotated[wire.StepRequest, Body()]) -> responses.JSON:
    ran = await controls(request).step_tasks(body.steps, body.corp_id)
    return responses.JSON({"steps": ran})


@router.post("/tasks/{taskId}/fail-next-step", name="TestFailNextStep")
async def fail_next_step(
    taskId: str, request: Request, body: Annotated[wire.FailNextStepRequest, Body()]
) -> responses.JSON:
    controls(request).fail_next_step(taskId, body.message)
    return done()


@router.get("/events", name="TestEvents")
async def events(request: Request, query: Annotated[wire.EventsQuery, Query()]) -> responses.JSON:
    found = await controls(request).events(query.corp_id, after=query.after, limit=query.limit)
    return responses.JSON({"events": found})


@router.post("/events/wait-delivered", name="TestWaitEventsDelivered")
async def wait_delivered(
    request: Request, body: Annotated[wire.WaitDeliveredRequest, Body()]
) -> responses.JSON:
    if not await controls(request).wait_events_delivered(body.corp_id, body.timeout):
        raise errors.WAIT_TIMEOUT.error(
            f"events of {body.corp_id} still pending after {body.timeout} s"
        )
    return responses.JSON({"delivered": True})


@router.post("/snapshots", name="TestSnapshot")
async def snapshot(
    request: Request, body: Annotated[wire.SnapshotRequest, Body()]
) -> responses.JSON:
    await controls(request).snapshot(body.name)
    return done()


@router.post("/snapshots/{name}/restore", name="TestRestore")
async def restore(name: str, request: Request) -> responses.JSON:
    await controls(request).restore(name)
    return done()


@router.get("/snapshots", name="TestListSnapshots")
async def list_snapshots(request: Request) -> responses.JSON:
    return responses.JSON({"snapshots": controls(request).snapshots()})


@router.delete("/snapshots/{name}", name="TestDropSnapshot")
async def drop_snapshot(name: str, request: Request) -> responses.JSON:
    controls(request).drop_snapshot(name)
    return done()
