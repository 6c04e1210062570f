"""dingstore's task extensions (docs/tasks.md#extensions), through HTTP: GetTask's long-poll
(``waitSeconds``), the task list, cancel, retry, ``Idempotency-Key`` and ``dryRun``. The
official SDK makes what it can express (spaces, folders, uploads, copies, GetTask); the
extensions go over plain HTTP with the same token.

Tasks that must stay unfinished while a test looks run behind a ``Gate``: each step of theirs
waits, outside its transaction, for a permit the test gives. What differs by shape (the
wake-ups of long-polls, the SQL of cancel and retry, concurrent claims of a key) runs on both;
the rest on the embedded shape only."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from dingstore import errors
from dingstore.engine.queue import Claimed
from dingstore.engine.worker import Handler, Step
from dingstore.service.bulk import copies, deletes, moves
from dingstore.store import schema, task_rows
from tests.api.test_bulk import build, tree_of
from tests.conftest import Tenant, new_tenant
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage

CHUNK = 2  # nodes a step settles: every task here takes several steps


class Gate:
    """Steps of the gated kinds wait for ``allow``; ``flood`` lets every step through."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.permits = asyncio.Semaphore(0)
        self.free = False
        self.taken = 0

    def allow(self, n: int = 1) -> None:
        for _ in range(n):
            self.server.loop.call_soon_threadsafe(self.permits.release)

    def flood(self) -> None:
        self.free = True
        self.allow(100)

    def wrap(self, monkeypatch: pytest.MonkeyPatch, *kinds: str) -> None:
        handlers = self.server.services.engine.handlers
        for kind in kinds:
            monkeypatch.setitem(handlers, kind, Gated(handlers[kind], self))  # type: ignore[arg-type]


class Gated:
    """A kind's handler whose steps wait for the gate (``prepare`` runs before the step's
    transaction, so nothing is held while it waits)."""

    def __init__(self, inner: Handler, gate: Gate) -> None:
        self.inner, self.gate = inner, gate

    async def prepare(self, task: Claimed) -> bool:
        if not self.gate.free:
            await self.gate.permits.acquire()
        self.gate.taken += 1
        return True

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def start(self, conn: Any, task: Claimed) -> tuple[int, Step]:
        return await self.inner.start(conn, task)

    async def step(self, conn: Any, task: Claimed, limit: int) -> Step:
        return await self.inner.step(conn, task, limit)

    async def cancel(self, conn: Any, task: Claimed) -> Step | None:
        return await self.inner.cancel(conn, task)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def gate(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    made = Gate(server)
    made.wrap(monkeypatch, copies.CopyPayload.kind, moves.MovePayload.kind)
    made.wrap(monkeypatch, deletes.DeletePayload.kind)
    yield made
    made.flood()  # no worker stays parked in a step when the server stops


@pytest.fixture
def server(shape: str, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A server of the test's own, whose tasks take steps of ``CHUNK`` nodes, for a test that
    gates tasks; the module's otherwise (an org per test)."""
    if "gate" in request.fixturenames or "make_server" in request.fixturenames:
        make: Callable[..., LiveServer] = request.getfixturevalue("make_server")
        yield make(task_chunk=CHUNK)
        return
    shared: LiveServer = request.getfixturevalue("module_server")
    yield shared
    shared.clock.reset()


def renewed(st: Storage, tenant: Tenant) -> Storage:
    """``st`` with a fresh token (the clock moved past the last one's expiry)."""
    app = tenant.boot.credentials
    assert app.app.app_key is not None
    token = st.sdk.access_token(app.app.app_key, app.app_secret).access_token
    return Storage(st.server, st.sdk, token, st.union_id)


def ext(st: Storage, method: str, path: str, **kw: Any) -> httpx.Response:
    """An extension call (``path`` below ``/dingstore/v1``) with this token and operator."""
    params = {"unionId": st.union_id, **kw.pop("params", {})}
    return http.request(
        method,
        f"{st.server.url}/dingstore/v1{path}",
        params=params,
        headers={"x-acs-dingtalk-access-token": st.token, **kw.pop("headers", {})},
        **kw,
    )


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def fails(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert response.json()["requestid"]


def get_task(st: Storage, task_id: str, **params: Any) -> httpx.Response:
    return st.raw("GET", f"/tasks/{task_id}", params=params)


def user(server: LiveServer, tenant: Tenant, name: str) -> str:
    return server.run(server.services.identity.create_user(tenant.corp_id, name)).union_id


def task_of(st: Storage, task_id: str) -> dict[str, Any]:
    return ok(get_task(st, task_id))["task"]


def wait_count(st: Storage, task_id: str, settled: int) -> dict[str, Any]:
    """GetTask until the task has settled ``settled`` nodes (success + fail)."""
    deadline = time.monotonic() + 10
    while True:
        task = task_of(st, task_id)
        if task.get("successCount", 0) + task.get("failCount", 0) >= settled:
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.01)


# --- long-poll --------------------------------------------------------------------------------


def test_long_poll_answers_when_the_task_ends_and_polls_nothing_meanwhile(
    server: LiveServer, st: Storage, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = st.new_space(), st.new_space()
    top, count, _ = build(st, source.id, folders=1, files=2)
    task_id = st.copy(source.id, top, target.id).task_id

    started = time.monotonic()
    timed_out = ok(get_task(st, task_id, waitSeconds=0.15))["task"]
    assert timed_out["status"] in ("INIT", "IN_PROGRESS")
    assert 0.15 <= time.monotonic() - started < 1.0

    reads = []
    real = task_rows.get_public

    async def counted(conn: Any, number: int) -> Any:
        reads.append(number)
        return await real(conn, number)

    monkeypatch.setattr(task_rows, "get_public", counted)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(lambda: ok(get_task(st, task_id, waitSeconds=20))["task"])
        time.sleep(0.15)
        assert not waiting.done()
        assert len(reads) == 1, "the waiter read its task again while nothing ended"
        released = time.monotonic()
        gate.flood()
        task = waiting.result(timeout=10)
        assert time.monotonic() - released < 2.0
    assert (task["status"], task["successCount"]) == ("SUCCESS", count)
    assert len(reads) == 1  # the end handed it the row the watch read


@pytest.mark.shapes("embedded")
def test_wait_seconds_is_checked_and_an_ended_task_answers_at_once(st: Storage) -> None:
    for bad in ("61", "-1", "soon", "nan"):
        fails(get_task(st, "1", waitSeconds=bad), 400, "paramError.waitSeconds")
    space = st.new_space()
    top, _count, _ = build(st, space.id, folders=1, files=1)
    task_id = st.delete(space.id, top, to_recycle_bin=True).task_id  # written SUCCESS
    started = time.monotonic()
    task = ok(get_task(st, task_id, waitSeconds=30))["task"]
    assert task["status"] == "SUCCESS" and time.monotonic() - started < 1.0
    fails(get_task(st, "1234", waitSeconds=5), 404, "taskNotExist")
    # the SDK's own GetTask, which never sends it, is unchanged
    assert st.get_task(task_id).status == "SUCCESS"


@pytest.mark.shapes("scale-out")
def test_long_poll_hears_a_task_another_process_ends(
    make_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The waiter's process runs no workers; the task ends in another, whose NOTIFY wakes it."""
    front = make_server(workers=0)
    back = make_server(task_chunk=CHUNK)
    gate = Gate(back)
    gate.wrap(monkeypatch, copies.CopyPayload.kind)
    try:
        tenant = new_tenant(front, Sdk(front.endpoint))
        st = Storage.of(front, Sdk(front.endpoint), tenant)
        source, target = st.new_space(), st.new_space()
        top, count, _ = build(st, source.id, folders=1, files=2)
        task_id = st.copy(source.id, top, target.id).task_id
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(lambda: ok(get_task(st, task_id, waitSeconds=20))["task"])
            time.sleep(0.1)
            assert not waiting.done()
            released = time.monotonic()
            gate.flood()
            task = waiting.result(timeout=15)
            assert time.monotonic() - released < 5.0
        assert (task["status"], task["successCount"]) == ("SUCCESS", count)
    finally:
        gate.flood()


# --- cancel and retry -------------------------------------------------------------------------


def test_cancel_stops_a_copy_midway_and_retry_copies_the_rest(
    server: LiveServer, st: Storage, gate: Gate, tenant: Tenant
) -> None:
    source, target = st.new_space(), st.new_space()
    top, count, stored = build(st, source.id, folders=2, files=3)  # 11 nodes
    task_id = st.copy(source.id, top, target.id).task_id
    gate.allow(3)  # start (the folder), the snapshot, one step of CHUNK nodes
    assert wait_count(st, task_id, 1 + CHUNK)["successCount"] == 1 + CHUNK

    bob = user(server, tenant, "bob")
    fails(ext(st.as_user(bob), "POST", f"/tasks/{task_id}/cancel"), 403, "permissionDenied")
    asked = ok(ext(st, "POST", f"/tasks/{task_id}/cancel"))["task"]
    assert asked["id"] == task_id and asked["status"] == "IN_PROGRESS"
    gate.allow(1)  # the next step boundary: it stops there
    task = ok(get_task(st, task_id, waitSeconds=10))["task"]
    assert (task["status"], task["failMessage"]) == ("FAIL", "canceled")
    assert (task["totalCount"], task["successCount"], task["failCount"]) == (
        count, 1 + CHUNK, count - 1 - CHUNK,
    )  # fmt: skip
    copied = tree_of(st, target.id)
    assert len(copied) == 1 + CHUNK  # what the steps before settled stays
    assert st.used_quota(target.id) == sum(size or 0 for _, kind, size in copied if kind == "FILE")
    # canceling an ended task changes nothing
    assert ok(ext(st, "POST", f"/tasks/{task_id}/cancel"))["task"] == task

    gate.flood()
    retried = ok(ext(st, "POST", f"/tasks/{task_id}/retry"))["task"]
    assert retried["id"] != task_id
    again = ok(get_task(st, retried["id"], waitSeconds=10))["task"]
    # the nodes it did not reach, and the folder copied into (there already)
    assert (again["status"], again["totalCount"], again["successCount"]) == (
        "SUCCESS", count - CHUNK, count - CHUNK,
    )  # fmt: skip
    assert tree_of(st, target.id) == tree_of(st, source.id)
    assert st.used_quota(target.id) == stored
    fails(ext(st, "POST", f"/tasks/{task_id}/retry"), 400, "taskNotRetryable")  # once
    fails(ext(st, "POST", f"/tasks/{retried['id']}/retry"), 400, "taskNotRetryable")  # succeeded


@pytest.mark.shapes("embedded")
def test_retry_takes_up_the_files_a_full_quota_failed(server: LiveServer, st: Storage) -> None:
    source = st.new_space()
    top, _count, stored = build(st, source.id, folders=2, files=3)
    target = st.new_space(quota=stored // 2)
    failed = st.wait_task(st.copy(source.id, top, target.id).task_id)
    assert failed.status == "FAIL" and failed.fail_message == "spaceQuotaInsufficient"
    db = server.services.db

    async def raise_quota() -> None:
        async with db.write() as conn:
            s = schema.spaces
            await conn.execute(sa.update(s).where(s.c.id == int(target.id)).values(quota=None))

    server.run(raise_quota())
    retried = ok(ext(st, "POST", f"/tasks/{failed.id}/retry"))["task"]
    task = ok(get_task(st, retried["id"], waitSeconds=10))["task"]
    assert (task["status"], task["successCount"]) == ("SUCCESS", failed.fail_count + 1)
    assert tree_of(st, target.id) == tree_of(st, source.id)
    assert st.used_quota(target.id) == stored


@pytest.mark.shapes("embedded")
def test_a_delete_cannot_be_canceled(st: Storage, gate: Gate) -> None:
    space = st.new_space()
    top, _, _ = build(st, space.id, folders=1, files=2)
    task_id = st.delete(space.id, top).task_id  # permanent: a DELETE task
    fails(ext(st, "POST", f"/tasks/{task_id}/cancel"), 400, "taskNotCancelable")
    fails(ext(st, "POST", f"/tasks/{task_id}/retry"), 400, "taskNotRetryable")  # not failed
    fails(ext(st, "POST", "/tasks/99999/cancel"), 404, "taskNotExist")
    gate.flood()
    assert ok(get_task(st, task_id, waitSeconds=10))["task"]["status"] == "SUCCESS"


@pytest.mark.shapes("embedded")
def test_cancel_of_a_move_across_spaces_leaves_the_rest_in_the_source(
    st: Storage, gate: Gate
) -> None:
    source, target = st.new_space(), st.new_space()
    top, count, stored = build(st, source.id, folders=2, files=3)
    task_id = st.move(source.id, top, target.id).task_id
    gate.allow(3)
    wait_count(st, task_id, 1 + CHUNK)
    ok(ext(st, "POST", f"/tasks/{task_id}/cancel"))
    gate.flood()
    task = ok(get_task(st, task_id, waitSeconds=10))["task"]
    assert (task["status"], task["failMessage"]) == ("FAIL", "canceled")
    assert task["successCount"] + task["failCount"] == task["totalCount"] == count
    moved, left = tree_of(st, target.id), tree_of(st, source.id)
    assert len(moved) == task["successCount"] and len(left) >= count - len(moved)
    assert st.used_quota(source.id) + st.used_quota(target.id) == stored  # no byte lost


# --- the task list ----------------------------------------------------------------------------


def test_the_task_list_filters_pages_and_shows_admins_the_orgs_tasks(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    bob = user(server, tenant, "bob")
    space, other = st.new_space(), st.new_space()
    st.add_permission(space.id, "0", "EDITOR", [("USER", bob)])
    mine = []
    for n in range(3):
        top = st.add_folder(space.id, f"t{n}")
        st.add_folder(space.id, "x", top.id)
        mine.append(st.delete(space.id, top.id, to_recycle_bin=True).task_id)
        server.clock.advance(1)
    top, _, _ = build(st, other.id, folders=1, files=1)
    copy = st.copy(other.id, top, space.id).task_id
    st.wait_task(copy)
    server.clock.advance(1)
    at = server.clock.now_ms()  # after every task but bob's
    theirs = st.as_user(bob).add_folder(space.id, "bob")
    st.as_user(bob).add_folder(space.id, "x", theirs.id)
    bobs = st.as_user(bob).delete(space.id, theirs.id, to_recycle_bin=True).task_id

    everything = ok(ext(st, "GET", "/tasks"))
    assert [t["id"] for t in everything["tasks"]] == [bobs, copy, *reversed(mine)]
    assert "nextToken" not in everything
    first = everything["tasks"][1]
    assert (first["kind"], first["spaceId"], first["creatorId"], first["status"]) == (
        "copy", other.id, st.union_id, "SUCCESS",
    )  # fmt: skip
    assert first["createTime"] and first["canceled"] is False
    # a user who is no admin sees their own
    assert [t["id"] for t in ok(ext(st.as_user(bob), "GET", "/tasks"))["tasks"]] == [bobs]
    # filters
    by = lambda **p: [t["id"] for t in ok(ext(st, "GET", "/tasks", params=p))["tasks"]]  # noqa: E731
    assert by(spaceId=other.id) == [copy]
    assert by(kind="copy") == [copy] and by(kind="count") == [bobs, *reversed(mine)]
    assert by(status="IN_PROGRESS") == []
    assert by(createdAfter=at) == [bobs]
    assert by(createdBefore=at) == [copy, *reversed(mine)]
    # pages, newest first
    seen, token = [], None
    while True:
        params = {"maxResults": 2, **({"nextToken": token} if token else {})}
        page = ok(ext(st, "GET", "/tasks", params=params))
        seen += [t["id"] for t in page["tasks"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == [t["id"] for t in everything["tasks"]]
    fails(ext(st, "GET", "/tasks", params={"status": "DONE"}), 400, "paramError.status")
    fails(ext(st, "GET", "/tasks", params={"kind": "purge"}), 400, "paramError.kind")
    fails(ext(st, "GET", "/tasks", params={"spaceId": "x"}), 400, "paramError.spaceId")
    fails(ext(st, "GET", "/tasks", params={"maxResults": 101}), 400, "paramError.maxResults")
    for name, bad in (("createdAfter", "today"), ("createdBefore", "1.5")):
        fails(ext(st, "GET", "/tasks", params={name: bad}), 400, f"paramError.{name}")
    fails(ext(st, "GET", "/tasks", params={"nextToken": "x"}), 400, "paramError.nextToken")
    # the same token, scope and error envelope as the storage API
    response = http.get(f"{server.url}/dingstore/v1/tasks", params={"unionId": st.union_id})
    fails(response, 400, "InvalidAuthentication")


@pytest.mark.shapes("embedded")
def test_finished_tasks_are_kept_for_the_retention_then_collected(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    space = st.new_space()
    top = st.add_folder(space.id, "t")
    st.add_folder(space.id, "x", top.id)
    task_id = st.delete(space.id, top.id, to_recycle_bin=True).task_id
    sweep = server.services.housekeeper.sweep
    server.clock.advance(7 * 86_400 - 60)
    server.run(sweep())
    st = renewed(st, tenant)  # days went by
    assert [t["id"] for t in ok(ext(st, "GET", "/tasks"))["tasks"]] == [task_id]
    server.clock.advance(120)
    server.run(sweep())
    assert ok(ext(st, "GET", "/tasks"))["tasks"] == []
    fails(get_task(st, task_id), 404, "taskNotExist")


# --- idempotency ------------------------------------------------------------------------------


def add_folder(st: Storage, space_id: str, name: str, key: str | None) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    return http.post(
        f"{st.server.url}/v1.0/storage/spaces/{space_id}/dentries/0/folders",
        params={"unionId": st.union_id},
        json={"name": name},
        headers={"x-acs-dingtalk-access-token": st.token, **headers},
    )


@pytest.mark.shapes("embedded")
def test_a_repeat_with_the_same_key_answers_the_first_answer(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    space = st.new_space()
    first = add_folder(st, space.id, "docs", "k-1")
    again = add_folder(st, space.id, "docs", "k-1")
    assert ok(again) == ok(first) and again.headers["idempotent-replayed"] == "true"
    assert [d.name for d in st.list_all(space.id)] == ["docs"]  # not "docs(1)"
    fails(add_folder(st, space.id, "other", "k-1"), 409, "idempotencyKeyReused")
    fails(add_folder(st, space.id, "docs", "x" * 256), 400, "paramError.Idempotency-Key")
    # without a key, the same request is a new one
    assert ok(add_folder(st, space.id, "docs", None))["dentry"]["name"] == "docs(1)"
    # a batch copy repeated: the same task ids, one copy
    target = st.new_space()
    top, count, _ = build(st, space.id, folders=1, files=1)
    body = {"targetSpaceId": target.id, "targetFolderId": "0", "dentryIds": [top]}
    with_key = lambda: http.post(  # noqa: E731
        f"{server.url}/v1.0/storage/spaces/{space.id}/dentries/batchCopy",
        params={"unionId": st.union_id},
        json=body,
        headers={"x-acs-dingtalk-access-token": st.token, "Idempotency-Key": "copy-1"},
    )
    one, two = ok(with_key()), ok(with_key())
    assert one == two and one["resultItems"][0]["taskId"]
    st.wait_task(one["resultItems"][0]["taskId"])
    assert len(tree_of(st, target.id)) == count
    # after 24 hours the key is forgotten (housekeeping), and a repeat runs anew
    server.clock.advance(24 * 3600 + 1)
    swept = server.run(server.services.housekeeper.sweep())
    assert swept["idempotency_keys"] >= 2
    st = renewed(st, tenant)
    assert ok(add_folder(st, space.id, "docs", "k-1"))["dentry"]["name"] == "docs(2)"


def test_concurrent_repeats_run_once(st: Storage) -> None:
    space = st.new_space()
    barrier = threading.Barrier(6)

    def send() -> httpx.Response:
        barrier.wait()
        return add_folder(st, space.id, "once", "same-key")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: send(), range(6)))
    made = {a.json()["dentry"]["id"] for a in answers if a.status_code == 200}
    busy = [a for a in answers if a.status_code != 200]
    assert len(made) == 1, [a.text for a in answers]
    assert all(a.json()["code"] == "idempotencyKeyInUse" for a in busy)
    assert [d.name for d in st.list_all(space.id)] == ["once"]
    assert ok(add_folder(st, space.id, "once", "same-key"))["dentry"]["id"] in made


@pytest.mark.shapes("embedded")
def test_a_late_answer_of_a_claim_taken_over_leaves_the_new_claim(
    server: LiveServer, tenant: Tenant
) -> None:
    """A request that ran past the stale time and lost its key to a repeat must neither answer
    for the repeat nor give its key back."""
    svc, corp_id = server.services.idempotency, tenant.corp_id

    def begin() -> Any:
        return server.run(svc.begin(corp_id, "app", "k-late", "AddFolder", "same"))

    first = begin()
    server.clock.advance(10 * 60 + 1)
    second = begin()  # taken over
    assert isinstance(first, int) and isinstance(second, int) and second > first
    server.run(svc.finish(corp_id, "app", "k-late", first, 200, '{"late": true}'))
    server.run(svc.abandon(corp_id, "app", "k-late", first))
    with pytest.raises(errors.DingstoreError) as refused:  # the repeat still runs
        begin()
    assert refused.value.code == "idempotencyKeyInUse"
    server.run(svc.finish(corp_id, "app", "k-late", second, 200, '{"new": true}'))
    assert begin().body == '{"new": true}'


@pytest.mark.shapes("embedded")
def test_a_repeat_while_the_first_runs_is_refused_until_its_claim_is_stale(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    space = st.new_space()
    ok(add_folder(st, space.id, "once", "k-run"))
    db = server.services.db

    async def unanswered() -> None:  # as if the first request were still running
        async with db.write() as conn:
            k = schema.idempotency_keys
            await conn.execute(
                sa.update(k).where(k.c.key == "k-run").values(status_code=None, response=None)
            )

    server.run(unanswered())
    fails(add_folder(st, space.id, "once", "k-run"), 409, "idempotencyKeyInUse")
    server.clock.advance(10 * 60 + 1)  # the claim is stale: taken over, the request runs again
    st = renewed(st, tenant)
    assert ok(add_folder(st, space.id, "once", "k-run"))["dentry"]["name"] == "once(1)"


@pytest.mark.shapes("embedded")
def test_a_failed_request_gives_its_key_back(st: Storage) -> None:
    space = st.new_space()
    st.add_folder(space.id, "taken")
    body = {"name": "taken", "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}}
    send = lambda: http.post(  # noqa: E731
        f"{st.server.url}/v1.0/storage/spaces/{space.id}/dentries/0/folders",
        params={"unionId": st.union_id},
        json=body,
        headers={"x-acs-dingtalk-access-token": st.token, "Idempotency-Key": "k"},
    )
    fails(send(), 400, "dentryAlreadyExist")
    st.rename(space.id, st.list_all(space.id)[0].id, "moved")
    assert ok(send())["dentry"]["name"] == "taken"


@pytest.mark.shapes("embedded")
def test_commit_file_and_recycle_bin_calls_take_the_key(st: Storage, tenant: Tenant) -> None:
    space = st.new_space()

    def keyed(path: str, body: Any, key: str) -> httpx.Response:
        return http.post(
            f"{st.server.url}/v1.0/storage{path}",
            params={"unionId": st.union_id},
            json=body,
            headers={"x-acs-dingtalk-access-token": st.token, "Idempotency-Key": key},
        )

    info = st.upload_info(space.id)
    assert st.put(info, b"hello").status_code == 200
    commit = {"uploadKey": info.upload_key, "name": "a.txt", "parentId": "0"}
    first = keyed(f"/spaces/{space.id}/files/commit", commit, "c-1")
    again = keyed(f"/spaces/{space.id}/files/commit", commit, "c-1")
    assert ok(again) == ok(first) and again.headers["idempotent-replayed"] == "true"
    assert [d.name for d in st.list_all(space.id)] == ["a.txt"]
    file_id = ok(first)["dentry"]["id"]
    st.delete(space.id, file_id, to_recycle_bin=True)
    bin_id = st.get_recycle_bin(tenant.corp_id).id
    (item,) = st.recycle_items(bin_id)
    restore = f"/recycleBins/{bin_id}/recycleItems/{item.id}/restore"
    one, two = keyed(restore, {}, "r-1"), keyed(restore, {}, "r-1")
    assert ok(two) == ok(one) and two.headers["idempotent-replayed"] == "true"
    assert [d.name for d in st.list_all(space.id)] == ["a.txt"] and not st.recycle_items(bin_id)
    # the key of the restore on another recycle-bin call: refused, nothing done
    fails(keyed(f"/recycleBins/{bin_id}/clear", {}, "r-1"), 409, "idempotencyKeyReused")


# --- dry run ----------------------------------------------------------------------------------


@pytest.mark.shapes("embedded")
def test_dry_runs_say_what_would_happen_and_change_nothing(server: LiveServer, st: Storage) -> None:
    source = st.new_space()
    top, count, stored = build(st, source.id, folders=2, files=2)
    lone = st.upload(source.id, b"12345", "lone.txt")
    target = st.new_space(quota=stored)
    st.add_folder(target.id, "top")
    st.upload(target.id, b"old", "lone.txt")

    def dry(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = st.raw(
            "POST", f"/spaces/{source.id}/dentries/{path}", params={"dryRun": "true"}, json=body
        )
        return ok(response)

    before = (tree_of(st, source.id), tree_of(st, target.id), st.used_quota(target.id))
    tasks_before = ok(ext(st, "GET", "/tasks"))["tasks"]
    copy = {"targetSpaceId": target.id, "targetFolderId": "0", "dentryIds": [top, lone.id]}
    plan = dry("batchCopy", copy)
    assert (plan["dryRun"], plan["operation"]) == (True, "copy")
    folder, file = plan["items"]
    assert (folder["nodes"], folder["bytes"], folder["conflict"], folder["targetName"]) == (
        count, stored, "autoRename", "top(1)",
    )  # fmt: skip
    assert (file["nodes"], file["bytes"], file["conflict"]) == (1, 5, "autoRename")
    assert (plan["nodes"], plan["bytes"]) == (count + 1, stored + 5)
    assert plan["quota"] == {
        "spaceId": target.id, "neededBytes": stored + 5, "availableBytes": stored - 3,
        "fits": False,
    }  # fmt: skip
    over = dry("batchCopy", {**copy, "option": {"conflictStrategy": "OVERWRITE"}})
    assert [i["conflict"] for i in over["items"]] == ["merge", "newVersion"]
    refused = dry("batchCopy", {**copy, "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}})
    assert [i.get("errorCode") for i in refused["items"]] == ["dentryAlreadyExist"] * 2
    assert refused["nodes"] == 0
    moved = dry("batchMove", {**copy, "dentryIds": [top]})  # every stored version goes along
    assert (moved["items"][0]["bytes"], moved["quota"]["fits"]) == (stored, False)
    moved = dry("batchMove", {**copy, "dentryIds": [lone.id]})
    assert (moved["items"][0]["conflict"], moved["quota"]["fits"]) == ("autoRename", True)
    gone = dry("batchRemove", {"dentryIds": [top, "999999"]})
    assert gone["items"][0]["nodes"] == count
    assert gone["items"][1]["errorCode"] == "dentryNotExist"
    assert "quota" not in gone
    after = (tree_of(st, source.id), tree_of(st, target.id), st.used_quota(target.id))
    assert after == before
    assert ok(ext(st, "GET", "/tasks"))["tasks"] == tasks_before
    bad = st.raw(
        "POST", f"/spaces/{source.id}/dentries/batchRemove", params={"dryRun": "yes"},
        json={"dentryIds": [top]},
    )  # fmt: skip
    fails(bad, 400, "paramError.dryRun")
