"""dingstore's task extensions through ``Client``: ``wait`` long-polls, the task list, dry
runs, ``Idempotency-Key`` (and the retry after a lost connection it makes safe), cancel and
retry."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from dingstore.client import Client, DingstoreError
from tests.client.conftest import credentials
from tests.client.test_access import Recording
from tests.client.test_tasks import names, tree
from tests.conftest import new_tenant
from tests.live import LiveServer, Sdk

pytestmark = pytest.mark.shapes("embedded")  # no bytes move: one shape is enough


def test_wait_long_polls_get_task(connect: Callable[..., Client]) -> None:
    wire = Recording()
    client = connect(transport=wire)
    space = client.create_space()
    task = client.copy([tree(client, space, "a"), tree(client, space, "b")], space)
    task.wait()
    assert task.status == "SUCCESS"
    polls = [
        (path, query) for path, query in wire.queries if path.startswith("/v1.0/storage/tasks/")
    ]
    # each task: one GetTask, held by the server until the task ended
    assert sorted(path.rsplit("/", 1)[1] for path, _ in polls) == sorted(task.ids), polls
    assert all("waitSeconds=20&" in query for _, query in polls), polls


def test_the_task_list(client: Client) -> None:
    space = client.create_space()
    other = client.create_space()
    copied = client.copy(tree(client, space, "a"), space).wait()
    deleted = client.delete(tree(client, space, "b"), permanent=True).wait()
    client.copy(tree(client, other, "c"), other).wait()

    listed = list(client.tasks(space))
    assert [t.id for t in listed] == [*deleted.ids, *copied.ids]  # newest first
    assert [t.kind for t in listed] == ["delete", "copy"]
    assert listed[1].space_id == space.id and listed[1].creator_id == client.union_id
    assert [t.id for t in client.tasks(space, kind="copy")] == copied.ids
    assert [t.id for t in client.tasks(status="FAIL")] == []
    assert len(list(client.tasks())) == 3


def test_a_dry_run_says_what_would_happen_and_changes_nothing(client: Client) -> None:
    space = client.create_space()
    target = client.create_space(quota=10)
    folder = tree(client, space, "d")  # 5 nodes, 6 bytes
    lone = client.upload(b"12345", space, "lone.txt")

    planned = client.copy([folder, lone], target, dry_run=True)
    plan = planned.plan
    assert plan is not None and planned.items == [] and planned.ids == []
    assert (plan.operation, plan.nodes, plan.bytes) == ("copy", 6, 11)
    assert [(i.dentry_id, i.nodes) for i in plan.items] == [(folder.id, 5), (lone.id, 1)]
    assert (plan.needed_bytes, plan.fits) == (11, False)
    assert names(client, target) == []

    gone = client.delete(folder, dry_run=True).plan
    assert gone is not None and (gone.operation, gone.nodes) == ("delete", 5)
    assert names(client, space) == ["d", "lone.txt"]


def test_an_idempotency_key_makes_a_repeat_answer_the_first_answer(client: Client) -> None:
    space = client.create_space()
    folder = tree(client, space, "i")
    first = client.copy(folder, space, idempotency_key="copy-1").wait()
    again = client.copy(folder, space, idempotency_key="copy-1").wait()
    assert again.ids == first.ids
    assert names(client, space) == ["i", "i(1)"]
    with pytest.raises(DingstoreError) as info:
        client.move(folder, space, idempotency_key="copy-1")
    assert (info.value.code, info.value.status) == ("idempotencyKeyReused", 409)


class LosesAnswers(httpx.HTTPTransport):
    """Sends each request, but drops the answer of the first ``n`` to ``path_part`` as if the
    connection broke: the server did the work, the client never heard."""

    def __init__(self, path_part: str, n: int = 1) -> None:
        super().__init__()
        self.path_part, self.left = path_part, n

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.path_part in request.url.path and self.left > 0:
            self.left -= 1
            response.close()
            raise httpx.ReadError("connection lost", request=request)
        return response


def test_a_call_whose_answer_is_lost_is_made_again_safely(connect: Callable[..., Client]) -> None:
    client = connect(transport=LosesAnswers("batchCopy"))
    space = client.create_space()
    folder = tree(client, space, "r")
    task = client.copy(folder, space).wait()
    assert task.status == "SUCCESS"
    assert names(client, space) == ["r", "r(1)"]  # one copy, not two

    commits = connect(transport=LosesAnswers("/files/commit"))
    made = commits.upload(b"once", space, "once.txt")
    assert [d.name for d in commits.list(space) if d.name.startswith("once")] == ["once.txt"]
    assert commits.read(made) == b"once"

    posts = connect(transport=LosesAnswers("/rename"))
    with pytest.raises(DingstoreError) as info:  # no key: not safe to repeat, not repeated
        posts.rename(made, "twice.txt")
    assert (info.value.code, info.value.status) == ("connectionError", None)


def test_cancel_then_retry(make_server: Callable[..., LiveServer]) -> None:
    front = make_server(workers=0)  # takes requests; no task runs until `back` starts
    tenant = new_tenant(front, Sdk(front.endpoint))
    with Client(*credentials(front, tenant), tenant.admin_id) as client:
        space = client.create_space()
        target = client.create_space()
        folder = tree(client, space, "c", files=4)
        task = client.copy(folder, target)
        assert client.cancel_task(task.ids[0]).status == "INIT"
        assert task.cancel() is task and task.status == "IN_PROGRESS"  # asked again: the same
        # the workers, in a server of their own: the task stops at its first step boundary.
        # Its end is heard there at once (on SQLite, a long poll hears only its own process)
        back = make_server(task_chunk=2)
        with Client(*credentials(back, tenant), tenant.admin_id) as there:
            ended = there.task(task.ids[0]).wait(timeout=10)
            assert ended.status == "FAIL" and ended.failures == [f"task {task.ids[0]}: canceled"]
            assert ended.success_count < ended.total_count

            retried = ended.retry().wait(timeout=10)
            assert retried.status == "SUCCESS" and retried.ids != ended.ids
            assert sorted(d.path for d in there.list_all(target)) == sorted(
                d.path for d in there.list_all(space)
            )
            with pytest.raises(DingstoreError) as info:
                there.retry_task(ended.ids[0])  # once only
            assert (info.value.code, info.value.status) == ("taskNotRetryable", 400)
