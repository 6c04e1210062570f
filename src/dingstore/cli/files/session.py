"""What every file command does around its work: find the credentials, make the client, and
turn how the work ended into a message and an exit status (``output.py`` lists them)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

import typer

from dingstore.cli.files import checksums, credentials, output
from dingstore.cli.files.output import Output
from dingstore.cli.files.paths import RemotePath
from dingstore.client import Client, DingstoreError, models

T = TypeVar("T")

Json = Annotated[
    bool,
    typer.Option("--json", help="One JSON object a line, and no progress bars."),
]
Profile = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="The saved login to use (env DINGSTORE_PROFILE; default: default).",
        show_default=False,
    ),
]


class NotFound(Exception):
    """A remote path or a local one that is not there (exit 3)."""


class Refused(Exception):
    """A request that cannot be carried out as asked, found before anything changed (exit 2)."""


class Failed(Exception):
    """The operation cannot be done, for a reason the message gives (exit 1)."""


class Partial(Exception):
    """Some items of a batch failed, the others were done (exit 4); or all failed (exit 1)."""

    def __init__(self, message: str, *, done: int, failed: int, code: str | None = None) -> None:
        super().__init__(message)
        self.done = done
        self.failed = failed
        self.code = code


def describe(error: DingstoreError) -> str:
    """DingTalk's code first, then what else the error says."""
    extra = [f"HTTP {error.status}"] if error.status else []
    if error.request_id:
        extra.append(f"requestid {error.request_id}")
    text = f"{error.code}: {error.message}" if error.message else error.code
    return f"{text} ({', '.join(extra)})" if extra else text


@contextlib.contextmanager
def guarded(out: Output) -> Iterator[None]:
    """End the command with the status of how its work ended."""
    try:
        yield
    except DingstoreError as error:
        out.fail(describe(error), output.status_for(error.code))
    except credentials.MissingCredentials as error:
        out.fail(str(error), output.USAGE)
    except NotFound as error:
        out.fail(str(error), output.NOT_FOUND)
    except Refused as error:
        out.fail(str(error), output.USAGE)
    except Failed as error:
        out.fail(str(error), output.FAILED)
    except Partial as error:
        if error.done == 0 and error.failed > 0:
            out.fail(str(error), output.FAILED)
        out.fail(str(error), output.PARTIAL)
    except KeyboardInterrupt:
        out.err.print("[red]interrupted[/red]")
        raise typer.Exit(output.INTERRUPTED) from None


def client(profile: str | None, parallel: int = 4) -> Client:
    """A client of the credentials. ``parallel``: the parts of a big file sent at once (and
    its connection pool's size)."""
    creds = credentials.resolve(profile)
    return Client(
        creds.endpoint,
        creds.app_key,
        creds.app_secret,
        creds.union_id,
        parallel=parallel,
        part_size=checksums.PART_SIZE,
        multipart_threshold=checksums.MULTIPART_THRESHOLD,
    )


def run(out: Output, profile: str | None, work: Callable[[Client], T], parallel: int = 4) -> T:
    """``work`` on a client of the credentials, ended as ``guarded`` says."""
    with guarded(out), client(profile, parallel) as c:
        return work(c)
    raise AssertionError("unreachable")  # guarded ends the command on any error


def resolve(c: Client, path: RemotePath) -> models.Dentry:
    """The file or folder at ``path``; ``NotFound`` if there is none."""
    found = c.resolve(path.space, path.path)
    if found is None:
        raise NotFound(f"no such file or folder: {path}")
    return found
