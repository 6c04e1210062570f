"""Task control (``/_dingstore/tasks/...``): a paused org's tasks do not run; steps run one at a
time on request, so a test sees a bulk copy's progress mid-way; resume lets the workers finish;
``fail-next-step`` ends a task FAIL with the message given."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.conftest import Tenant, new_tenant
from tests.live import LiveServer, Sdk
from tests.storage import Storage
from tests.testmode.conftest import CHUNK, Controls

pytestmark = pytest.mark.shapes("embedded")

FOLDERS = 6  # under the folder copied: 7 nodes, several steps of CHUNK


def copy_of_a_tree(st: Storage) -> str:
    """Start a copy of a folder holding FOLDERS folders; its task id."""
    space = st.new_space()
    top = st.add_folder(space.id, "top")
    for n in range(FOLDERS):
        st.add_folder(space.id, f"f{n}", top.id)
    result = st.copy(space.id, top.id, space.id, conflict_strategy="AUTO_RENAME")
    assert result.async_ and result.task_id
    return str(result.task_id)


def test_a_paused_copy_moves_step_by_step_then_finishes_on_resume(
    st: Storage, controls: Controls, tenant: Tenant
) -> None:
    controls.task("pause", corpId=tenant.corp_id)
    task_id = copy_of_a_tree(st)
    time.sleep(0.1)  # room for a worker that would (wrongly) take it
    task = st.get_task(task_id)
    assert (task.status, task.success_count) == ("INIT", 0)

    seen = []
    while True:
        assert controls.task("step", corpId=tenant.corp_id) == {"steps": 1}
        task = st.get_task(task_id)
        if task.status != "IN_PROGRESS":
            break
        seen.append(int(task.success_count))
        assert task.total_count == FOLDERS + 1
    # each settling step adds at most CHUNK: the progress a user sees mid-copy
    assert any(0 < count < FOLDERS + 1 for count in seen), seen
    assert all(b - a <= CHUNK for a, b in itertools.pairwise(seen)), seen
    assert (task.status, task.success_count) == ("SUCCESS", FOLDERS + 1)
    # nothing left to step
    assert controls.task("step", steps=5, corpId=tenant.corp_id) == {"steps": 0}
    controls.task("resume", corpId=tenant.corp_id)


def test_resume_lets_the_workers_finish(st: Storage, controls: Controls, tenant: Tenant) -> None:
    controls.task("pause", corpId=tenant.corp_id)
    task_id = copy_of_a_tree(st)
    assert controls.task("step", steps=2, corpId=tenant.corp_id) == {"steps": 2}
    assert st.get_task(task_id).status == "IN_PROGRESS"
    controls.task("resume", corpId=tenant.corp_id)
    task = st.wait_task(task_id, timeout=10)
    assert (task.status, task.success_count) == ("SUCCESS", FOLDERS + 1)


def test_a_pause_of_one_org_leaves_the_others_running(
    server: LiveServer, sdk: Sdk, st: Storage, controls: Controls, tenant: Tenant
) -> None:
    other = Storage.of(server, sdk, new_tenant(server, sdk))
    controls.task("pause", corpId=tenant.corp_id)
    try:
        held, running = copy_of_a_tree(st), copy_of_a_tree(other)
        assert other.wait_task(running, timeout=10).status == "SUCCESS"
        assert st.get_task(held).status == "INIT"
    finally:
        controls.task("resume", corpId=tenant.corp_id)
    assert st.wait_task(held, timeout=10).status == "SUCCESS"


def test_fail_next_step_ends_the_task_with_the_message(
    st: Storage, controls: Controls, tenant: Tenant
) -> None:
    controls.task("pause", corpId=tenant.corp_id)
    task_id = copy_of_a_tree(st)
    assert controls.task("step", corpId=tenant.corp_id) == {"steps": 1}  # begun
    controls.ok("POST", f"tasks/{task_id}/fail-next-step", json={"message": "disk on fire"})
    controls.task("resume", corpId=tenant.corp_id)
    task = st.wait_task(task_id, timeout=10)
    assert (task.status, task.fail_message) == ("FAIL", "disk on fire")
    assert task.success_count + task.fail_count == task.total_count


def test_step_and_fail_next_step_check_their_arguments(controls: Controls) -> None:
    for path, body, code in [
        ("tasks/step", {"steps": 0}, "paramError.steps"),
        ("tasks/abc/fail-next-step", {}, "paramError.taskId"),
    ]:
        response = controls.call("POST", path, json=body)
        assert (response.status_code, response.json()["code"]) == (400, code)
