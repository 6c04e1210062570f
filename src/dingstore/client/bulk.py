"""Bulk operations (spec §6 E): copy, move and delete of any number of files and folders,
batched within the API's limits, each answered with a ``Task``; and the tasks themselves:
followed by id, listed, canceled, retried (dingstore's task extensions, docs/tasks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from dingstore.client import flows, models
from dingstore.client.bind import listing, operation
from dingstore.client.spaces import Base
from dingstore.client.tasks import (
    BATCH_COPY,
    BATCH_MOVE,
    BATCH_REMOVE,
    EXTENSIONS,
    Item,
    Started,
    Targets,
    cancel,
    item,
    keys,
    nodes,
    retry,
    started,
    tasked,
)


class Bulk(Base):
    def _batches(
        self,
        targets: Targets,
        limit: int,
        path: str,
        body: dict[str, Any],
        *,
        idempotency_key: str | None,
        dry_run: bool,
        targets_kept: bool = True,
    ) -> flows.Flow[Started]:
        """The batch call ``path`` over ``targets``, by source space, ``limit`` ids a call,
        each with its own ``Idempotency-Key`` (made again after a lost connection: the server
        answers a key once)."""
        by_space: dict[str, list[str]] = {}
        for n in nodes(targets):
            by_space.setdefault(n.space_id, []).append(n.id)
        items: list[Item] = []
        plans: list[dict[str, Any]] = []
        key = keys(idempotency_key)
        for space_id, ids in by_space.items():
            for start in range(0, len(ids), limit):
                answer = yield from self._session.call(
                    "POST",
                    f"/v1.0/storage/spaces/{space_id}/dentries/{path}",
                    params={"dryRun": True} if dry_run else None,
                    body={**body, "dentryIds": ids[start : start + limit]},
                    idempotency_key=None if dry_run else next(key),
                )
                if dry_run:
                    plans.append(answer)
                    continue
                keys_of = ("targetSpaceId", "targetDentryId") if targets_kept else None
                items += [item(i, target_keys=keys_of) for i in answer.get("resultItems") or []]
        if dry_run:
            return Started([], plan=models.Plan.merge(plans))
        return started(items)

    def _into(
        self,
        targets: Targets,
        folder: models.Target,
        path: str,
        option: dict[str, Any],
        idempotency_key: str | None,
        dry_run: bool,
    ) -> flows.Flow[Started]:
        """A copy or move (``path``) of ``targets`` into ``folder``."""
        to = models.node(folder)
        body = {"targetSpaceId": to.space_id, "targetFolderId": to.id, "option": option}
        limit = BATCH_COPY if path == "batchCopy" else BATCH_MOVE
        return (
            yield from self._batches(
                targets, limit, path, body, idempotency_key=idempotency_key, dry_run=dry_run
            )
        )

    @tasked
    def copy(
        self,
        targets: Targets,
        folder: models.Target,
        *,
        conflict: models.Conflict = "AUTO_RENAME",
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> flows.Flow[Started]:
        """Copy files and folders (one target or a sequence) into ``folder``, in this space
        or another (CopyDentries, 3 ids a call). A file or empty folder is copied at once; a
        folder with children in a server task. Each item's ``target`` is its copy.

        ``dry_run``: change nothing; the task's ``plan`` says what would happen.
        ``idempotency_key``: the same key again within 24 hours answers the first answer and
        copies nothing again (a random key is used if none is given)."""
        option = {"conflictStrategy": conflict}
        return (
            yield from self._into(targets, folder, "batchCopy", option, idempotency_key, dry_run)
        )

    @tasked
    def move(
        self,
        targets: Targets,
        folder: models.Target,
        *,
        conflict: models.Conflict = "AUTO_RENAME",
        preserve_permissions: bool = False,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> flows.Flow[Started]:
        """Move files and folders into ``folder``, in this space or another (MoveDentries,
        30 ids a call); ``preserve_permissions`` keeps their grants. ``dry_run`` and
        ``idempotency_key`` as for ``copy``."""
        option = {"conflictStrategy": conflict, "preservePermissions": preserve_permissions}
        return (
            yield from self._into(targets, folder, "batchMove", option, idempotency_key, dry_run)
        )

    @tasked
    def delete(
        self,
        targets: Targets,
        *,
        permanent: bool = False,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> flows.Flow[Started]:
        """Delete files and folders (DeleteDentries, 50 ids a call): into the org's recycle
        bin, where ``restore`` gets them back, unless ``permanent`` (the API's own default is
        permanent; the client's is the safe one). ``dry_run`` and ``idempotency_key`` as for
        ``copy``."""
        return (
            yield from self._batches(
                targets,
                BATCH_REMOVE,
                "batchRemove",
                {"option": {"toRecycleBin": not permanent}},
                idempotency_key=idempotency_key,
                dry_run=dry_run,
                targets_kept=False,
            )
        )

    @tasked
    def task(self, task_id: str) -> flows.Flow[Started]:
        """Follow a server task by its id (from a ``taskId`` answered elsewhere, or
        ``tasks()``)."""
        answer = yield from self._session.call("GET", f"/v1.0/storage/tasks/{task_id}")
        info = models.read(models.TaskInfo, answer["task"])
        return Started([Item(source_id="", space_id="", task_id=info.id)], {info.id: info})

    @operation
    def cancel_task(self, task_id: str) -> flows.Flow[models.TaskInfo]:
        """Ask the task ``task_id`` to stop at its next step boundary (as ``Task.cancel``)
        and return it as it stands; an ended task is returned unchanged."""
        return (yield from cancel(self._session, task_id))

    @tasked
    def retry_task(self, task_id: str) -> flows.Flow[Started]:
        """A new task over only the nodes the failed task ``task_id`` failed on (as
        ``Task.retry``); ``taskNotRetryable`` if it did not fail or was retried already."""
        return (yield from retry(self._session, [task_id]))

    @listing
    def tasks(
        self,
        space: models.Target | None = None,
        *,
        status: Literal["INIT", "IN_PROGRESS", "SUCCESS", "FAIL"] | None = None,
        kind: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> flows.Pages[models.TaskInfo]:
        """The operator's tasks (an org admin: the org's), newest first
        (``/dingstore/v1/tasks``), only those of ``space``, ``status``, ``kind`` (``copy``,
        ``move``, ``delete``, ``count``) and creation time if given. Finished tasks are kept for the
        server's retention (docs/tasks.md)."""
        params: dict[str, Any] = {
            "spaceId": None if space is None else models.node(space).space_id,
            "status": status,
            "kind": kind,
            "createdAfter": _ms(created_after),
            "createdBefore": _ms(created_before),
        }

        def page(token: str | None) -> flows.Flow[flows.Page[models.TaskInfo]]:
            answer = yield from self._session.call(
                "GET", EXTENSIONS, params={**params, "nextToken": token}
            )
            items = [models.read(models.TaskInfo, t) for t in answer.get("tasks") or []]
            return flows.Page(items, answer.get("nextToken") or None)

        return page


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)
