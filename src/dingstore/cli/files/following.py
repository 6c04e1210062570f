"""Following a bulk operation (copy, move, delete, restore) to its end: a live bar from its
tasks' counts, a record per item, and the exit status of how it ended (``--no-wait``: the
task ids, at once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dingstore.cli.files import session
from dingstore.cli.files.output import Output
from dingstore.cli.files.progress import TaskBars
from dingstore.client import Task, TaskBase


def item_records(task: TaskBase, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """One record per item of the batch calls; ``names`` maps a source id to how the user
    named it."""
    records = []
    for i in task.items:
        record: dict[str, Any] = {"source": names.get(i.source_id, i.source_id), "id": i.source_id}
        if i.task_id is not None:
            record["taskId"] = i.task_id
        else:
            record["success"] = bool(i.success)
        if i.error_code:
            record["errorCode"] = i.error_code
        if i.target_id is not None and i.success is not False:
            record["targetSpaceId"] = i.target_space_id
            record["targetId"] = i.target_id
        records.append(record)
    return records


def summary(task: TaskBase) -> dict[str, Any]:
    return {
        "status": task.status,
        "totalCount": task.total_count,
        "successCount": task.success_count,
        "failCount": task.fail_count,
        "taskIds": task.ids,
        "failures": task.failures,
    }


def finish(
    out: Output, task: Task, verb: str, names: Mapping[str, str], *, wait: bool = True
) -> None:
    """Wait for ``task`` with a bar (unless ``wait`` is off), print what happened, and raise
    ``session.Partial`` when anything failed. Ctrl-C stops the waiting, not the tasks: their
    ids are printed so that ``dingstore tasks cancel`` can stop them."""
    if not wait:
        for record in item_records(task, names):
            if out.json:
                out.record(record)
            elif "taskId" in record:
                out.line(record["taskId"])
        _raise_failures(task, verb)
        return
    try:
        with TaskBars(out) as bars:

            def show(t: TaskBase) -> None:
                bars.update("all", verb, t.success_count + t.fail_count, t.total_count)

            task.wait(progress=show)
    except KeyboardInterrupt:
        if task.ids:
            out.err.print(
                f"still running on the server: {' '.join(task.ids)} "
                "(`dingstore tasks cancel ID` stops one)"
            )
        raise
    if out.json:
        for record in item_records(task, names):
            out.record(record)
        out.record({"summary": summary(task)})
    else:
        done = f"{verb}: {task.success_count} of {task.total_count} nodes"
        out.say(done + (f", {task.fail_count} failed" if task.fail_count else ""))
    _raise_failures(task, verb)


def _raise_failures(task: TaskBase, verb: str) -> None:
    failures = task.failures
    if not failures:
        return
    first = next((i.error_code for i in task.items if i.success is False), None)
    if first is None:
        first = next((t.fail_message for t in task.infos.values() if t.status == "FAIL"), None)
    shown = "; ".join(failures[:5]) + (
        f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
    )
    raise session.Partial(
        f"{verb} failed in part: {shown}",
        done=task.success_count,
        failed=max(task.fail_count, len(failures)),
        code=first,
    )
