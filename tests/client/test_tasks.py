"""Copy, move and delete through ``Client``: batched, followed by ``Task.wait`` with a
progress callback; the recycle bin."""

from __future__ import annotations

import pytest

from dingstore.client import Client, Dentry, Space, TaskBase

pytestmark = pytest.mark.shapes("embedded")  # copies share blobs: no bytes move


def tree(client: Client, space: Space, name: str, files: int = 3) -> Dentry:
    folder = client.create_folder(space, name)
    sub = client.create_folder(folder, "sub")
    for n in range(files):
        client.upload(f"{name}{n}".encode(), sub if n % 2 else folder, f"{n}.txt")
    return folder


def names(client: Client, folder: Dentry | Space) -> list[str]:
    return [d.name for d in client.list(folder)]


def test_copy_of_folders_and_files_waits_with_progress(client: Client) -> None:
    space = client.create_space()
    target = client.create_space()
    folders = [tree(client, space, f"t{n}") for n in range(4)]
    lone = client.upload(b"lone", space, "lone.txt")

    seen: list[tuple[str, int, int]] = []

    def progress(task: TaskBase) -> None:
        seen.append((task.status, task.success_count + task.fail_count, task.total_count))

    task = client.copy([*folders, lone], target)  # five ids: two batch calls of three at most
    assert len(task.items) == 5 and len(task.ids) == 4
    assert task.items[4].success is True and task.items[4].task_id is None
    done = task.wait(progress)
    assert done is task
    assert task.status == "SUCCESS" and task.failures == []
    # each folder: itself, sub, three files; and the lone file
    assert task.total_count == task.success_count == 4 * 5 + 1
    assert seen[0][0] == "IN_PROGRESS"
    assert seen[-1] == ("SUCCESS", 21, 21)
    assert names(client, target) == ["lone.txt", "t0", "t1", "t2", "t3"]
    copy = task.items[0].target
    assert copy is not None and copy.space_id == target.id
    assert sorted(names(client, client.get(copy))) == ["0.txt", "2.txt", "sub"]
    assert client.read(client.resolve(target, "/t2/sub/1.txt")) == b"t21"  # type: ignore[arg-type]


def test_move_then_delete_to_the_bin_and_restore(client: Client) -> None:
    space = client.create_space()
    dest = client.create_folder(space, "dest")
    moved = tree(client, space, "m")
    task = client.move(moved, dest).wait()
    assert task.status == "SUCCESS"
    assert task.items[0].target == moved.node
    assert client.get(moved).path == "/dest/m"

    lone = client.upload(b"lone", space, "lone.txt")
    task = client.delete([dest, lone]).wait()
    assert (task.status, task.total_count) == ("SUCCESS", 1 + 6)
    assert names(client, space) == []
    recycled = [i for i in client.recycle_items() if i.space_id == space.id]
    assert sorted(i.original_path for i in recycled) == ["/dest", "/lone.txt"]

    restored = client.restore(recycled).wait()
    assert restored.status == "SUCCESS"
    assert sorted(i.target.id for i in restored.items if i.target) == sorted([dest.id, lone.id])
    assert names(client, space) == ["dest", "lone.txt"]
    assert client.read(client.resolve(space, "/dest/m/sub/1.txt")) == b"m1"  # type: ignore[arg-type]
    assert [i for i in client.recycle_items() if i.space_id == space.id] == []


def test_permanent_delete_purge_and_clear(client: Client) -> None:
    space = client.create_space()
    gone = tree(client, space, "gone")
    task = client.delete(gone, permanent=True).wait()
    assert task.status == "SUCCESS"
    assert [i for i in client.recycle_items() if i.space_id == space.id] == []

    one = client.upload(b"1", space, "1.txt")
    two = client.upload(b"2", space, "2.txt")
    client.delete([one, two]).wait()
    items = {i.original_name: i for i in client.recycle_items() if i.space_id == space.id}
    client.purge(items["1.txt"])
    assert [i.original_name for i in client.recycle_items() if i.space_id == space.id] == ["2.txt"]
    client.clear_recycle_bin()
    assert list(client.recycle_items()) == []


def test_a_failed_item_fails_the_task(client: Client) -> None:
    space = client.create_space()
    here = client.upload(b"x", space, "x.txt")
    task = client.copy(here, space, conflict="RETURN_ERROR_IF_EXISTS").wait()
    assert task.status == "FAIL"
    assert task.failures == [f"{here.id}: dentryAlreadyExist"]
    assert (task.total_count, task.fail_count) == (1, 1)
    with pytest.raises(Exception) as info:
        task.raise_for_status()
    assert getattr(info.value, "code", None) == "dentryAlreadyExist"


def test_follow_a_task_by_its_id(client: Client) -> None:
    space = client.create_space()
    folder = tree(client, space, "f")
    started = client.copy(folder, space)
    followed = client.task(started.ids[0]).wait()
    assert followed.status == "SUCCESS" and followed.total_count == 5
