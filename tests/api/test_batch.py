"""CopyDentries, MoveDentries and DeleteDentries (spec §6 E): limits checked before anything
happens, per-item results in request order, async items with their own task."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m

from tests.conftest import sdk_error
from tests.storage import Storage


def batch_copy(st: Storage, space: str, ids: list[str], target: str, folder: str = "0") -> Any:
    request = m.CopyDentriesRequest(
        union_id=st.union_id, target_space_id=target, target_folder_id=folder, dentry_ids=ids
    )
    return st._api.copy_dentries_with_options(
        space, request, st._h(m.CopyDentriesHeaders), st._rt
    ).body.result_items


def batch_move(st: Storage, space: str, ids: list[str], target: str, folder: str = "0") -> Any:
    request = m.MoveDentriesRequest(
        union_id=st.union_id, target_space_id=target, target_folder_id=folder, dentry_ids=ids
    )
    return st._api.move_dentries_with_options(
        space, request, st._h(m.MoveDentriesHeaders), st._rt
    ).body.result_items


def batch_remove(st: Storage, space: str, ids: list[str], *, recycle: bool = False) -> Any:
    request = m.DeleteDentriesRequest(
        union_id=st.union_id,
        dentry_ids=ids,
        option=m.DeleteDentriesRequestOption(to_recycle_bin=recycle),
    )
    return st._api.delete_dentries_with_options(
        space, request, st._h(m.DeleteDentriesHeaders), st._rt
    ).body.result_items


def test_limits_and_bad_ids_fail_the_whole_call(st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"x", "x.txt")
    for call, limit in (
        (lambda ids: batch_copy(st, space.id, ids, space.id), 3),
        (lambda ids: batch_move(st, space.id, ids, space.id), 30),
        (lambda ids: batch_remove(st, space.id, ids), 50),
    ):
        err = sdk_error(lambda c=call, n=limit: c([file.id] * (n + 1)))
        assert (err.statusCode, err.code) == (400, "paramError.dentryIds")
        err = sdk_error(lambda c=call: c([file.id, "not-an-id"]))
        assert err.code == "paramError.dentryIds"
        assert sdk_error(lambda c=call: c([])).code == "paramError.dentryIds"
    assert sdk_error(lambda: batch_copy(st, space.id, [file.id], "12345")).code == "spaceNotExist"
    err = sdk_error(lambda: batch_move(st, space.id, [file.id], space.id, "777"))
    assert err.code == "dentryNotExist"
    assert [d.id for d in st.list_all(space.id)] == [file.id]  # nothing happened


def test_mixed_items_keep_their_order(st: Storage) -> None:
    space, other = st.new_space(), st.new_space()
    file = st.upload(space.id, b"data", "a.txt")
    folder = st.add_folder(space.id, "full")
    st.upload(space.id, b"inner", "in.txt", folder.id)
    items = batch_copy(st, space.id, [file.id, "999999", folder.id], other.id)
    assert [i.dentry_id for i in items] == [file.id, "999999", folder.id]
    sync, missing, nested = items
    assert (sync.async_, sync.success, sync.target_space_id) == (False, True, other.id)
    assert (missing.success, missing.error_code, missing.target_dentry_id) == (
        False, "dentryNotExist", None,
    )  # fmt: skip
    assert nested.async_ is True and nested.task_id and nested.target_dentry_id
    st.wait_task(nested.task_id)  # until then the folder is held by that task
    raw = st.raw_ok(
        "POST",
        f"/spaces/{space.id}/dentries/batchCopy",
        json={"targetSpaceId": other.id, "targetFolderId": "0", "dentryIds": [folder.id]},
    )["resultItems"][0]
    assert raw["async"] is True and "success" not in raw and "errorCode" not in raw
    for task_id in (nested.task_id, raw["taskId"]):
        task = st.wait_task(task_id)
        assert (task.status, task.total_count, task.success_count) == ("SUCCESS", 2, 2)
    assert sorted(d.path for d in st.list_all(other.id)) == [
        "/a.txt", "/full", "/full(1)", "/full(1)/in.txt", "/full/in.txt",
    ]  # fmt: skip


def test_move_and_remove_many(st: Storage) -> None:
    space, other = st.new_space(), st.new_space()
    files = [st.upload(space.id, f"{n}".encode(), f"{n}.txt") for n in range(5)]
    moved = batch_move(st, space.id, [f.id for f in files[:3]], other.id)
    assert [(i.success, i.target_dentry_id) for i in moved] == [(True, f.id) for f in files[:3]]
    assert sorted(d.name for d in st.list_all(other.id)) == ["0.txt", "1.txt", "2.txt"]
    removed = batch_remove(st, space.id, [files[3].id, files[4].id, files[0].id], recycle=True)
    assert [(i.success, i.error_code) for i in removed] == [
        (True, None), (True, None), (False, "dentryNotExist"),
    ]  # fmt: skip
    assert st.list_all(space.id) == []


@pytest.mark.parametrize("call", [batch_copy, batch_move])
def test_several_folders_with_children_into_one_folder(st: Storage, call: Any) -> None:
    """Each item's task holds its own subtree under the target folder; the next item adding
    beside it is not refused (the target folder is above a held subtree, not inside one)."""
    source, target = st.new_space(), st.new_space()
    folders = []
    for n in range(3):
        folder = st.add_folder(source.id, f"f{n}")
        st.upload(source.id, f"in {n}".encode(), "a.txt", folder.id)
        folders.append(folder.id)
    dest = st.add_folder(target.id, "dest")
    items = call(st, source.id, folders, target.id, dest.id)
    assert [(i.async_, i.success) for i in items] == [(True, None)] * 3
    for item in items:
        assert st.wait_task(item.task_id).status == "SUCCESS"
    listed = {d.path: d.type for d in st.list_all(target.id)}
    assert listed == {
        "/dest": "FOLDER",
        **{f"/dest/f{n}": "FOLDER" for n in range(3)},
        **{f"/dest/f{n}/a.txt": "FILE" for n in range(3)},
    }
