"""``dingstore tasks``: the server tasks of copies, moves, deletes and restores (dingstore's
task list), and waiting for, cancelling or retrying one."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, cast

import typer

from dingstore.cli.files import following, session
from dingstore.cli.files.output import Output
from dingstore.cli.files.session import Json, Profile
from dingstore.client import Client, models

app = typer.Typer(
    help="Server tasks (folder copies, moves, deletes, restores): list, wait, cancel, retry.",
    invoke_without_command=True,
)


class Status(enum.StrEnum):
    INIT = "INIT"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


TaskId = Annotated[str, typer.Argument(metavar="TASK_ID", show_default=False)]


def _record(t: models.TaskInfo) -> dict[str, Any]:
    return t.raw or {"id": t.id, "status": t.status}


def _row(t: models.TaskInfo) -> tuple[Any, ...]:
    raw = t.raw
    done = (t.success_count or 0) + (t.fail_count or 0)
    created = str(raw.get("createTime", ""))[:19]
    return (
        t.id,
        str(raw.get("kind", "")).lower(),
        t.status.lower() + (" (canceled)" if raw.get("canceled") else ""),
        f"{done}/{t.total_count or 0}",
        t.fail_count or 0,
        raw.get("spaceId") or "",
        created,
        t.fail_message or "",
    )


@app.callback()
def tasks(
    ctx: typer.Context,
    space: Annotated[str | None, typer.Option("--space", help="Only this space's.")] = None,
    status: Annotated[
        Status | None, typer.Option("--status", case_sensitive=False, help="Only these.")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="copy, move, delete or count.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Your tasks, newest first (an org admin: the org's). `tasks wait|cancel|retry ID`."""
    if ctx.invoked_subcommand is not None:
        return
    out = Output(as_json)

    def work(c: Client) -> None:
        found = []
        where = None if space is None else models.Node(space)
        wanted = cast(Literal["INIT", "IN_PROGRESS", "SUCCESS", "FAIL"] | None, status)
        for t in c.tasks(where, status=wanted, kind=kind):
            found.append(t)
            if len(found) >= limit:
                break
        columns = ("id", "kind", "status", "done", "failed", "space", "created", "message")
        out.rows(
            "tasks",
            columns,
            [_row(t) for t in found],
            records=[_record(t) for t in found],
            right={"done", "failed"},
        )

    session.run(out, profile, work)


@app.command("wait")
def wait(task_id: TaskId, as_json: Json = False, profile: Profile = None) -> None:
    """Wait for a task to end, with a bar of its counts; the exit status says how it ended."""
    out = Output(as_json)
    session.run(out, profile, lambda c: following.finish(out, c.task(task_id), "task", {}))


@app.command("cancel")
def cancel(task_id: TaskId, as_json: Json = False, profile: Profile = None) -> None:
    """Stop a running task at its next step: what it did so far stays done (a copy's copied
    nodes stay, a move's moved ones stay moved); it ends FAIL, canceled."""
    out = Output(as_json)

    def work(c: Client) -> None:
        info = c.cancel_task(task_id)
        if out.json:
            out.record(_record(info))
        else:
            out.say(f"task {info.id}: {info.status.lower()}, cancel asked")

    session.run(out, profile, work)


@app.command("retry")
def retry(
    task_id: TaskId,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Print the new task's id.")] = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Start a new task over only the nodes a finished task failed on; wait for it."""
    out = Output(as_json)

    def work(c: Client) -> None:
        following.finish(out, c.retry_task(task_id), "retry", {}, wait=not no_wait)

    session.run(out, profile, work)
