"""A small "sync a folder" app on DingTalk's storage API, written as any integrator would: the
official SDK (``alibabacloud-dingtalk``) and the standard library, nothing of dingstore.

* ``SyncApp.sync(local_dir, space_id)`` uploads a local folder's files into a space, making
  its sub-folders; when the org's storage is full it stops and says so, and reports what it
  synced.
* ``SyncApp.backup(space_id, folder_id)`` copies a synced folder into a new ``backups``
  folder, which DingTalk does in the background; ``SyncApp.progress(task_id)`` is the line a
  user sees meanwhile.

docs/testing.md walks through its tests (``test_sync_app.py``), which run it against dingstore.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from alibabacloud_dingtalk.oauth2_1_0 import models as oauth_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuthClient
from alibabacloud_dingtalk.storage_1_0 import models as m
from alibabacloud_dingtalk.storage_1_0.client import Client as StorageClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions
from Tea.exceptions import TeaException

STORAGE_FULL = "quotaUsedExceeded"


@dataclass
class Report:
    """What a sync did: the files uploaded (path → dentryId), and why it stopped early."""

    uploaded: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    stopped: str | None = None

    def summary(self) -> str:
        done = f"{len(self.uploaded)} of {len(self.uploaded) + len(self.skipped)} files synced"
        return f"{done}; {self.stopped}" if self.stopped else done


class SyncApp:
    def __init__(self, endpoint: str, app_key: str, app_secret: str, union_id: str) -> None:
        config = Config(protocol="http", endpoint=endpoint)
        self.storage = StorageClient(config)
        self.union_id = union_id
        self.runtime = RuntimeOptions(autoretry=False)
        request = oauth_models.GetAccessTokenRequest(app_key=app_key, app_secret=app_secret)
        self.token = OAuthClient(config).get_access_token(request).body.access_token

    def _h(self, headers_class: type) -> object:
        return headers_class(x_acs_dingtalk_access_token=self.token)

    # --- the space ---------------------------------------------------------------------------

    def space(self, name: str) -> str:
        """The app's space for ``name`` (made on first use; AddSpace is idempotent)."""
        request = m.AddSpaceRequest(
            union_id=self.union_id,
            option=m.AddSpaceRequestOption(name=name, scene="sync", scene_id=name),
        )
        body = self.storage.add_space_with_options(
            request, self._h(m.AddSpaceHeaders), self.runtime
        )
        return str(body.body.space.id)

    def folder(self, space_id: str, name: str, parent_id: str = "0") -> str:
        option = m.AddFolderRequestOption(conflict_strategy="RETURN_DENTRY_IF_EXISTS")
        request = m.AddFolderRequest(union_id=self.union_id, name=name, option=option)
        made = self.storage.add_folder_with_options(
            space_id, parent_id, request, self._h(m.AddFolderHeaders), self.runtime
        )
        return str(made.body.dentry.id)

    # --- sync ----------------------------------------------------------------------------------

    def sync(
        self,
        local_dir: Path,
        space_id: str,
        parent_id: str = "0",
    ) -> Report:
        """Upload every file under ``local_dir`` (sorted by path) below ``parent_id`` that is
        not there yet."""
        report = Report()
        folders = {Path("."): parent_id}
        there: dict[str, set[str]] = {}
        for path in sorted(p.relative_to(local_dir) for p in local_dir.rglob("*")):
            if report.stopped:
                if (local_dir / path).is_file():
                    report.skipped.append(path.as_posix())
                continue
            parent = folders[path.parent]
            if (local_dir / path).is_dir():
                folders[path] = self.folder(space_id, path.name, parent)
                continue
            if parent not in there:
                there[parent] = self.names(space_id, parent)
            if path.name in there[parent]:
                continue
            try:
                dentry_id = self.upload(
                    space_id, parent, path.name, (local_dir / path).read_bytes()
                )
            except TeaException as err:
                if err.code != STORAGE_FULL:
                    raise
                report.stopped = "storage is full: free some space, then sync again"
                report.skipped.append(path.as_posix())
                continue
            report.uploaded[path.as_posix()] = dentry_id
        return report

    def names(self, space_id: str, folder_id: str) -> set[str]:
        """The names in a folder (ListDentries, every page)."""
        found: set[str] = set()
        token = None
        while True:
            request = m.ListDentriesRequest(
                union_id=self.union_id, parent_id=folder_id, next_token=token
            )
            page = self.storage.list_dentries_with_options(
                space_id, request, self._h(m.ListDentriesHeaders), self.runtime
            ).body
            found.update(d.name for d in page.dentries or [])
            token = page.next_token
            if not token:
                return found

    def upload(self, space_id: str, parent_id: str, name: str, data: bytes) -> str:
        """GetFileUploadInfo, PUT the bytes where it says, CommitFile: the new file's id."""
        request = m.GetFileUploadInfoRequest(
            union_id=self.union_id, protocol="HEADER_SIGNATURE", multipart=False
        )
        info = self.storage.get_file_upload_info_with_options(
            space_id, request, self._h(m.GetFileUploadInfoHeaders), self.runtime
        ).body
        target = info.header_signature_info
        put = urllib.request.Request(
            target.resource_urls[0], data=data, headers=target.headers, method="PUT"
        )
        with urllib.request.urlopen(put) as answer:
            answer.read()
        commit = m.CommitFileRequest(
            union_id=self.union_id, upload_key=info.upload_key, name=name, parent_id=parent_id
        )
        made = self.storage.commit_file_with_options(
            space_id, commit, self._h(m.CommitFileHeaders), self.runtime
        )
        return str(made.body.dentry.id)

    # --- backup --------------------------------------------------------------------------------

    def backup(self, space_id: str, folder_id: str) -> str:
        """Copy the folder into ``backups``; the id of the task that copies it."""
        backups = self.folder(space_id, "backups")
        request = m.CopyDentryRequest(
            union_id=self.union_id,
            target_space_id=space_id,
            target_folder_id=backups,
            option=m.CopyDentryRequestOption(conflict_strategy="AUTO_RENAME"),
        )
        copied = self.storage.copy_dentry_with_options(
            space_id, folder_id, request, self._h(m.CopyDentryHeaders), self.runtime
        ).body
        return str(copied.task_id)

    def progress(self, task_id: str) -> str:
        """What the user sees of a backup: ``Backing up: 2 of 6 items (33%)``, or its end."""
        request = m.GetTaskRequest(union_id=self.union_id)
        task = self.storage.get_task_with_options(
            task_id, request, self._h(m.GetTaskHeaders), self.runtime
        ).body.task
        if task.status == "SUCCESS":
            return "Backup complete"
        if task.status == "FAIL":
            return f"Backup failed: {task.fail_message}"
        total = task.total_count or 0
        done = task.success_count or 0
        if not total:
            return "Backing up: preparing"
        return f"Backing up: {done} of {total} items ({100 * done // total}%)"
