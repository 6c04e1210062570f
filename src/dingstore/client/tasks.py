"""The ``Task`` a bulk operation (``bulk.py``) answers with: its items, the server tasks they
became, GetTask's long poll to wait for them, cancel and retry; and ``tasked``, the decorator
of the methods that answer with one."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, TypeAlias, overload

from dingstore.client import errors, flows, models
from dingstore.client.bind import Async, Sync, _Bound, operation
from dingstore.client.drivers import AsyncDriver, SyncDriver
from dingstore.client.session import Session

P = ParamSpec("P")

LONG_POLL = 20.0
"""Seconds GetTask waits for a task to finish (``waitSeconds``) when nobody shows progress."""
PROGRESS_POLL = 0.5
"""... and when a progress callback wants to hear how it goes."""
BATCH_COPY, BATCH_MOVE, BATCH_REMOVE = 3, 30, 50
"""The most ids a batch call takes (spec §6 E)."""
EXTENSIONS = "/dingstore/v1/tasks"
WATCHED = 8
"""Tasks whose GetTask long-polls are open at once."""


@dataclass(frozen=True)
class Item:
    """One item of a bulk operation as the batch call answered it. ``success`` is None when
    the item went on in a server task (``task_id``); the target ids are there unless it
    failed (``error_code``)."""

    source_id: str
    """The dentry id (a restore: the recycle item's id)."""
    space_id: str
    success: bool | None = None
    error_code: str | None = None
    task_id: str | None = None
    target_space_id: str | None = None
    target_id: str | None = None

    @property
    def target(self) -> models.Node | None:
        """The copy, the moved entry or the restored one, if any."""
        if self.target_space_id is None or self.target_id is None:
            return None
        return models.Node(self.target_space_id, self.target_id)


@dataclass
class Started:
    """What a bulk operation's requests answered: its items and the server tasks they made."""

    items: list[Item]
    tasks: dict[str, models.TaskInfo] = field(default_factory=dict)
    plan: models.Plan | None = None


def cancel(session: Session, task_id: str) -> flows.Flow[models.TaskInfo]:
    """Ask the server task ``task_id`` to stop; the task as it stands."""
    answer = yield from session.call("POST", f"{EXTENSIONS}/{task_id}/cancel")
    return models.read(models.TaskInfo, answer["task"])


def retry(session: Session, task_ids: Sequence[str]) -> flows.Flow[Started]:
    """A new server task over the failed nodes of each of ``task_ids``."""
    tasks: dict[str, models.TaskInfo] = {}
    for task_id in task_ids:
        answer = yield from session.call("POST", f"{EXTENSIONS}/{task_id}/retry")
        new = models.read(models.TaskInfo, answer["task"])
        tasks[new.id] = new
    return Started([Item(source_id=i, space_id="", task_id=i) for i in tasks], tasks)


class TaskBase:
    """A bulk operation: its ``items`` and the server tasks (``infos``) that some of them
    became. The counts add up the tasks' and one per item done at once."""

    def __init__(self, session: Session, started: Started) -> None:
        self._session = session
        self.items = started.items
        self.infos = started.tasks
        self.plan = started.plan
        """What a dry run answered (``dry_run=True``); the task then did nothing."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.status} {self.success_count + self.fail_count}"
            f"/{self.total_count} ids={self.ids}>"
        )

    @property
    def ids(self) -> list[str]:
        """The ids of the server tasks (GetTask), in the order of the items."""
        return list(self.infos)

    @property
    def done(self) -> bool:
        return all(info.finished for info in self.infos.values())

    @property
    def status(self) -> str:
        """``IN_PROGRESS`` until every task has finished, then ``SUCCESS``, or ``FAIL`` when
        any item or task failed."""
        if not self.done:
            return "IN_PROGRESS"
        return "FAIL" if self.failures else "SUCCESS"

    @property
    def total_count(self) -> int:
        return sum(1 for i in self.items if i.task_id is None) + sum(
            info.total_count or 0 for info in self.infos.values()
        )

    @property
    def success_count(self) -> int:
        return sum(1 for i in self.items if i.success) + sum(
            info.success_count or 0 for info in self.infos.values()
        )

    @property
    def fail_count(self) -> int:
        return sum(1 for i in self.items if i.success is False) + sum(
            info.fail_count or 0 for info in self.infos.values()
        )

    @property
    def failures(self) -> list[str]:
        """Why what failed failed: each failed item's ``id: code``, and each failed task's
        ``task id: failMessage``."""
        failed = [f"{i.source_id}: {i.error_code}" for i in self.items if i.success is False]
        return failed + [
            f"task {info.id}: {info.fail_message or 'FAIL'}"
            for info in self.infos.values()
            if info.status == "FAIL"
        ]

    def raise_for_status(self) -> None:
        """Raise ``DingstoreError`` (the first failure's code) if anything failed."""
        for item in self.items:
            if item.success is False:
                raise errors.DingstoreError(item.error_code or "FAIL", f"item {item.source_id}")
        for info in self.infos.values():
            if info.status == "FAIL":
                raise errors.DingstoreError(info.fail_message or "FAIL", f"task {info.id}")

    @operation
    def refresh(self) -> flows.Flow[TaskBase]:
        """Read every unfinished task once more (GetTask)."""
        pending = [info.id for info in self.infos.values() if not info.finished]
        infos = yield flows.Parallel([self._get(i, 0) for i in pending], 4)
        self.infos.update((info.id, info) for info in infos)
        return self

    @operation
    def wait(
        self,
        progress: Callable[[TaskBase], None] | None = None,
        *,
        timeout: float | None = None,
    ) -> flows.Flow[TaskBase]:
        """Wait until every task has finished and return this task. GetTask is asked with
        ``waitSeconds``, which answers as soon as the task ends (dingstore's long poll), for
        every unfinished task at once; a server without it answers at once, and is asked again
        after a growing pause.
        ``progress(task)`` is called after each answer; it sees the counts grow. Past
        ``timeout`` seconds, ``DingstoreError`` ``waitTimeout``. Failures do not raise: see
        ``status``, ``failures`` and ``raise_for_status``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.02
        if progress is not None:
            progress(self)
        while not self.done:
            pending = [info.id for info in self.infos.values() if not info.finished]
            hold = PROGRESS_POLL if progress is not None else LONG_POLL
            if deadline is not None:
                hold = max(0.0, min(hold, deadline - time.monotonic()))
            asked = time.monotonic()
            before = self.success_count + self.fail_count
            infos = yield flows.Parallel([self._get(i, hold) for i in pending], WATCHED)
            self.infos.update((info.id, info) for info in infos)
            if progress is not None:
                progress(self)
            if self.done:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise errors.DingstoreError("waitTimeout", f"{self!r} after {timeout} s")
            held = time.monotonic() - asked >= hold / 2
            if held or self.success_count + self.fail_count != before:
                pause = 0.02
            else:
                yield flows.Sleep(pause)
                pause = min(pause * 2, 1.0)
        return self

    @operation
    def cancel(self) -> flows.Flow[TaskBase]:
        """Cancel every unfinished task (``/dingstore/v1/tasks/{id}/cancel``): each stops at
        its next step boundary and ends ``FAIL``, its counts saying what was done (what a copy
        or move settled stays). A delete or purge runs to its end: ``taskNotCancelable``."""
        for info in list(self.infos.values()):
            if not info.finished:
                self.infos[info.id] = yield from cancel(self._session, info.id)
        return self

    def _get(self, task_id: str, wait: float) -> flows.Flow[models.TaskInfo]:
        answer = yield from self._session.call(
            "GET",
            f"/v1.0/storage/tasks/{task_id}",
            params={"waitSeconds": wait or None},
            timeout=wait + 30 if wait else None,
        )
        return models.read(models.TaskInfo, answer["task"])


class tasked(_Bound, Generic[P]):
    """A method written as a flow ending with what a bulk operation ``Started``: it returns a
    ``Task`` (``Client``) or an ``AsyncTask`` (``AsyncClient``) to follow it."""

    def __init__(self, flow: Callable[Concatenate[Any, P], flows.Flow[Started]]) -> None:
        super().__init__(flow)
        self.flow = flow

    @overload
    def __get__(self, obj: None, owner: type) -> tasked[P]: ...
    @overload
    def __get__(self, obj: Sync, owner: type) -> Callable[P, Task]: ...
    @overload
    def __get__(self, obj: Async, owner: type) -> Callable[P, Coroutine[Any, Any, AsyncTask]]: ...
    def __get__(self, obj: Sync | Async | None, owner: type) -> Any:
        if obj is None:
            return self
        session: Session = obj._session  # type: ignore[union-attr]
        if isinstance(obj, Sync):
            sync = obj._driver
            return self._bind(obj, lambda f: sync.run(f, lambda s: Task(session, s, sync)))
        driver = obj._driver
        return self._bind(obj, lambda f: driver.run(f, lambda s: AsyncTask(session, s, driver)))


class Retryable(TaskBase):
    @tasked
    def retry(self) -> flows.Flow[Started]:
        """A new task over only the nodes that failed, for each failed task
        (``/dingstore/v1/tasks/{id}/retry``); items that failed at once are not retried."""
        failed = [info.id for info in self.infos.values() if info.status == "FAIL"]
        return (yield from retry(self._session, failed))


class Task(Sync, Retryable):
    """A bulk operation of a ``Client``: ``wait`` and ``refresh`` block."""

    def __init__(self, session: Session, started: Started, driver: SyncDriver) -> None:
        super().__init__(session, started)
        self._driver = driver


class AsyncTask(Async, Retryable):
    """A bulk operation of an ``AsyncClient``: ``wait`` and ``refresh`` are coroutines."""

    def __init__(self, session: Session, started: Started, driver: AsyncDriver) -> None:
        super().__init__(session, started)
        self._driver = driver


Targets: TypeAlias = models.Target | Sequence[models.Target]


def nodes(targets: Targets) -> list[models.Node]:
    """One target or several, as their ids."""
    if isinstance(targets, (models.Dentry, models.Space)):
        return [models.node(targets)]
    if (
        isinstance(targets, tuple)
        and len(targets) == 2
        and all(isinstance(t, str) for t in targets)
    ):
        return [models.Node(*targets)]
    return [models.node(t) for t in targets]  # type: ignore[arg-type]


def item(
    data: dict[str, Any],
    source_key: str = "dentryId",
    target_keys: tuple[str, str] | None = ("targetSpaceId", "targetDentryId"),
) -> Item:
    """An ``Item`` from a batch answer's ``resultItems`` entry; its target ids under
    ``target_keys`` (None: it has none)."""
    space_key, id_key = target_keys or ("", "")
    return Item(
        source_id=str(data.get(source_key, "")),
        space_id=str(data.get("spaceId", "")),
        success=None if data.get("async") else data.get("success", True),
        error_code=data.get("errorCode"),
        task_id=data.get("taskId") or None,
        target_space_id=data.get(space_key) or None,
        target_id=data.get(id_key) or None,
    )


def started(items: list[Item]) -> Started:
    """Items and the tasks the async ones made, each not yet read."""
    tasks = {i.task_id: models.TaskInfo(i.task_id, "INIT") for i in items if i.task_id}
    return Started(items, tasks)


def keys(key: str | None) -> Iterator[str]:
    """The ``Idempotency-Key`` of each call of one operation: ``key`` (a random one if None),
    then ``key.2``, ``key.3`` ... for its further batch calls."""
    key = key if key is not None else uuid.uuid4().hex
    yield key
    for n in itertools.count(2):
        yield f"{key}.{n}"
