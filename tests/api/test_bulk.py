"""Bulk copy, move and delete of folders with children: async through the task engine, followed
with GetTask, exact counts, quotas and blob references, and subtrees held while a task runs."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage


def build(st: Storage, space_id: str, *, folders: int = 3, files: int = 4) -> tuple[str, int, int]:
    """``/top`` with ``folders`` subfolders each holding ``files`` files (and one nested empty
    folder). Returns (top id, node count including top, bytes stored)."""
    top = st.add_folder(space_id, "top")
    stored = 0
    for f in range(folders):
        sub = st.add_folder(space_id, f"sub{f}", top.id)
        st.add_folder(space_id, "empty", sub.id)
        for n in range(files):
            data = f"file {f}/{n}".encode() * (n + 1)
            st.upload(space_id, data, f"f{n}.txt", sub.id)
            stored += len(data)
    return top.id, 1 + folders * (2 + files), stored


def wait(st: Storage, task_id: str, timeout: float = 30) -> object:
    return st.wait_task(task_id, timeout)


def tree_of(st: Storage, space_id: str) -> list[tuple[str, str, int | None]]:
    return sorted((d.path, d.type, d.size) for d in st.list_all(space_id))


def test_copy_a_folder_across_spaces(st: Storage) -> None:
    source, target = st.new_space(), st.new_space()
    top, count, stored = build(st, source.id)
    result = st.copy(source.id, top, target.id)
    assert result.async_ is True and result.task_id
    assert (result.dentry.name, result.dentry.space_id) == ("top", target.id)
    task = wait(st, result.task_id)
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "SUCCESS", count, count, 0,
    )  # fmt: skip
    assert task.begin_time and task.end_time and task.fail_message is None
    assert tree_of(st, target.id) == tree_of(st, source.id)
    assert st.used_quota(target.id) == st.used_quota(source.id) == stored
    copied = [d for d in st.list_all(target.id) if d.type == "FILE"]
    assert st.download(target.id, copied[0].id) == st.download(
        source.id, next(d.id for d in st.list_all(source.id) if d.path == copied[0].path)
    )


def test_copy_running_out_of_quota_fails_the_files_that_do_not_fit(st: Storage) -> None:
    source = st.new_space()
    top, count, stored = build(st, source.id, folders=2, files=3)
    target = st.new_space(quota=stored // 2)
    task = wait(st, st.copy(source.id, top, target.id).task_id)
    assert task.status == "FAIL" and task.fail_message == "spaceQuotaInsufficient"
    assert task.success_count + task.fail_count == task.total_count == count
    assert 0 < task.fail_count <= 6
    assert st.used_quota(target.id) <= stored // 2
    files = [d for d in st.list_all(target.id) if d.type == "FILE"]
    assert len(files) == 6 - task.fail_count
    assert st.used_quota(target.id) == sum(d.size for d in files)


def test_move_within_a_space_is_instant(st: Storage) -> None:
    space = st.new_space()
    top, count, _ = build(st, space.id)
    dest = st.add_folder(space.id, "dest")
    before = tree_of(st, space.id)
    result = st.move(space.id, top, space.id, dest.id)
    assert result.async_ is True and result.dentry.id == top and result.dentry.path == "/dest/top"
    task = wait(st, result.task_id)
    assert (task.status, task.total_count, task.success_count) == ("SUCCESS", count, count)
    after = tree_of(st, space.id)
    assert len(after) == len(before) and all(p.startswith("/dest") for p, _, _ in after)


def test_move_a_folder_across_spaces(st: Storage) -> None:
    source, target = st.new_space(), st.new_space()
    top, count, stored = build(st, source.id)
    before = tree_of(st, source.id)
    result = st.move(source.id, top, target.id)
    task = wait(st, result.task_id)
    assert (task.status, task.total_count, task.success_count) == ("SUCCESS", count, count)
    assert tree_of(st, target.id) == before and tree_of(st, source.id) == []
    assert (st.used_quota(source.id), st.used_quota(target.id)) == (0, stored)


def test_move_across_spaces_past_the_quota_is_refused(st: Storage) -> None:
    source = st.new_space()
    top, _, stored = build(st, source.id, folders=1, files=2)
    target = st.new_space(quota=stored - 1)
    err = sdk_error(lambda: st.move(source.id, top, target.id))
    assert (err.statusCode, err.code) == (400, "spaceQuotaInsufficient")
    assert tree_of(st, target.id) == [] and st.used_quota(source.id) == stored


def test_delete_permanently_and_to_the_recycle_bin(st: Storage) -> None:
    space = st.new_space()
    top, count, _ = build(st, space.id)
    keep = st.upload(space.id, b"keep", "keep.txt")
    result = st.delete(space.id, top)
    assert result.async_ is True
    task = wait(st, result.task_id)
    assert (task.status, task.total_count, task.success_count) == ("SUCCESS", count, count)
    assert [d.id for d in st.list_all(space.id)] == [keep.id]
    assert st.used_quota(space.id) == 4

    top2, count2, stored2 = build(st, space.id)
    recycled = st.delete(space.id, top2, to_recycle_bin=True)
    task = wait(st, recycled.task_id)
    assert (task.status, task.total_count) == ("SUCCESS", count2)
    assert [d.id for d in st.list_all(space.id)] == [keep.id]
    assert st.used_quota(space.id) == 4 + stored2  # kept until purged from the recycle bin


def test_a_held_subtree_refuses_other_operations(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(workers=0)  # nothing runs the task: it stays held
    sdk = Sdk(server.endpoint)
    from tests.conftest import new_tenant

    st = Storage.of(server, sdk, new_tenant(server, sdk))
    space, other = st.new_space(), st.new_space()
    top, _, _ = build(st, space.id, folders=1, files=1)
    inner = next(d for d in st.list_all(space.id) if d.path == "/top/sub0")
    result = st.copy(space.id, top, other.id)
    task = st.sdk.get_task(st.token, result.task_id, st.union_id).body.task
    assert task.status == "INIT" and task.total_count is None
    for attempt in (
        lambda: st.rename(space.id, inner.id, "renamed"),
        lambda: st.delete(space.id, top),
        lambda: st.add_folder(space.id, "new", inner.id),
        lambda: st.move(space.id, top, other.id),
    ):
        err = sdk_error(attempt)
        assert (err.statusCode, err.code) == (400, "operationConcurrentControl")
        assert result.task_id in err.data["message"]
    assert st.add_folder(space.id, "elsewhere").name == "elsewhere"
