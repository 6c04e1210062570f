"""The sync app's tests, against dingstore through the pytest plugin's ``dingstore`` fixture: a
fresh org per test (its admin, an app holding every scope), and the test-mode controls."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m
from sync_app import SyncApp

from dingstore.testing import Dingstore


@pytest.fixture
def app(dingstore: Dingstore) -> SyncApp:
    return SyncApp(dingstore.endpoint, dingstore.app_key, dingstore.app_secret, dingstore.union_id)


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def names_in(app: SyncApp, space_id: str, parent_id: str = "0") -> list[str]:
    request = m.ListDentriesRequest(union_id=app.union_id, parent_id=parent_id)
    body = app.storage.list_dentries_with_options(
        space_id, request, m.ListDentriesHeaders(x_acs_dingtalk_access_token=app.token),
        app.runtime,
    ).body  # fmt: skip
    return sorted(d.name for d in body.dentries)


def subscribe(app: SyncApp, space_id: str) -> None:
    request = m.SubscribeEventRequest(scope="SPACE", scope_id=space_id, union_id=app.union_id)
    app.storage.subscribe_event_with_options(
        request, m.SubscribeEventHeaders(x_acs_dingtalk_access_token=app.token), app.runtime
    )


def test_sync_uploads_the_files_and_makes_the_folders(
    app: SyncApp, dingstore: Dingstore, tmp_path: Path
) -> None:
    local = make_tree(tmp_path, {"a.txt": "A", "docs/b.txt": "B", "docs/c.txt": "C"})
    space = app.space("laptop")
    subscribe(app, space)

    report = app.sync(local, space)

    assert report.summary() == "3 of 3 files synced"
    assert names_in(app, space) == ["a.txt", "docs"]
    assert names_in(app, space, app.folder(space, "docs")) == ["b.txt", "c.txt"]
    # every change the app made, as its subscribers are told, in order
    created = [(e["eventType"], e["name"]) for e in dingstore.events()]
    assert created == [
        ("storage_dentry_create", "a.txt"),
        ("storage_dentry_create", "docs"),
        ("storage_dentry_create", "b.txt"),
        ("storage_dentry_create", "c.txt"),
    ]


def test_a_full_storage_stops_the_sync_and_says_so(
    app: SyncApp, dingstore: Dingstore, tmp_path: Path
) -> None:
    local = make_tree(tmp_path, {f"note{n}.txt": f"text {n}" for n in range(1, 6)})
    space = app.space("notes")
    # the third upload (its first call, GetFileUploadInfo): DingTalk answers that the org's
    # storage is used up; the two before it pass
    dingstore.inject_fault("GetFileUploadInfo", "quotaUsedExceeded", status=400, after=2)

    report = app.sync(local, space)

    assert report.summary() == (
        "2 of 5 files synced; storage is full: free some space, then sync again"
    )
    assert report.skipped == ["note3.txt", "note4.txt", "note5.txt"]
    assert names_in(app, space) == ["note1.txt", "note2.txt"]
    # the fault fired once: the next sync uploads what this one left
    again = app.sync(local, space)
    assert again.summary() == "3 of 3 files synced"
    assert (
        names_in(app, space)
        == [f"note{n}.txt" for n in range(1, 6)]
        == sorted([*report.uploaded, *again.uploaded])
    )


def test_the_backup_shows_its_progress_while_it_runs(
    app: SyncApp, dingstore: Dingstore, tmp_path: Path
) -> None:
    local = make_tree(tmp_path, {f"album/page{n}.txt": "x" * n for n in range(1, 6)})
    space = app.space("albums")
    app.sync(local, space)
    album = app.folder(space, "album")
    subscribe(app, space)
    dingstore.pause_tasks()  # the copy waits for the test to move it on

    task = app.backup(space, album)
    assert app.progress(task) == "Backing up: preparing"
    dingstore.step_tasks(1)  # its first step: the copy of the folder itself
    assert app.progress(task) == "Backing up: 1 of 6 items (16%)"
    # two more: the copy takes the folder's children two a step (conftest.py: task_chunk=2)
    assert dingstore.step_tasks(2) == 2
    assert app.progress(task) == "Backing up: 3 of 6 items (50%)"

    dingstore.resume_tasks()
    deadline = time.monotonic() + 10
    while (shown := app.progress(task)) != "Backup complete" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert shown == "Backup complete"
    # the copy's events: one per item, the copied folder first (a task emits them as it goes)
    copied = [e for e in dingstore.events() if e["eventType"] == "storage_dentry_create"]
    assert [e["name"] for e in copied] == [
        "backups",
        "album",
        *(f"page{n}.txt" for n in range(1, 6)),
    ]
