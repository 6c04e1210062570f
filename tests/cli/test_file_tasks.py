"""Server tasks from the command line: ``cp`` of a 20,000-node folder drawing its live bar in a
pseudo-terminal, ``--no-wait``, ``tasks`` (list, wait, cancel, retry), and Ctrl-C during an
upload, which leaves nothing committed."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dingstore.service import models
from tests import backends
from tests.cli.files import Remote, process_env
from tests.cli.test_admin import SRC
from tests.conftest import new_tenant
from tests.engine import trees
from tests.live import LiveServer, Sdk
from tests.storage import Storage

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _default_sigint() -> None:
    """Ctrl-C as a shell leaves it: an xdist worker blocks or ignores SIGINT, and its
    children would inherit that."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """``python -m dingstore ARGS`` with a pseudo-terminal (120 columns) as its stdin, stdout
    and stderr, as a person runs it."""

    def __init__(self, remote: Remote, *args: str) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**process_env(remote), "PYTHONPATH": SRC, "TERM": "xterm-256color"}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dingstore", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
            preexec_fn=_default_sigint,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, done: Callable[[str], bool], timeout: float = 60) -> str:
        """Read what it draws until ``done(text so far)`` or it exits; the text, ANSI codes
        taken out."""
        deadline = time.monotonic() + timeout
        while not done(self.text) and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError as exc:  # EIO: the process has closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            self.output += chunk
        return self.text

    @property
    def text(self) -> str:
        return ANSI.sub("", self.output.decode(errors="replace"))

    def finish(self, timeout: float = 60) -> int:
        self.read_until(lambda _: False, timeout)
        code = self.proc.wait(timeout=timeout)
        os.close(self.master)
        return code


@contextlib.contextmanager
def terminal(remote: Remote, *args: str) -> Iterator[Terminal]:
    t = Terminal(remote, *args)
    try:
        yield t
    finally:
        if t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()


def seed(remote: Remote, name: str, nodes: int) -> tuple[str, int]:
    """A folder of ``nodes`` nodes at the root of a new space, written straight into the
    tables (``trees.seed_tree``); the space's id and the folder's."""
    server, tenant = remote.server, remote.tenant
    services = server.services
    space = remote.new_space()

    async def plant() -> int:
        principal = await services.tokens.authenticate(tenant.token)
        operator = await services.identity.operator(tenant.corp_id, tenant.admin_id)
        account = trees.Account(models.Actor(principal, operator, services.clock), tenant.token)
        return (await trees.seed_tree(services, account, int(space), name, nodes)).root_id

    return space, server.run(plant())


@pytest.mark.shapes(backends.EMBEDDED)
def test_cp_of_a_20k_node_folder_shows_its_progress_in_a_terminal(remote: Remote) -> None:
    space, _ = seed(remote, "big", 20_000)
    remote.run("mkdir", f"{space}:/into")
    with terminal(remote, "cp", f"{space}:/big", f"{space}:/into") as t:
        t.read_until(lambda text: "20000/20000 nodes" in text)
        assert t.finish() == 0, t.text
    drawn = t.text
    assert "copy" in drawn and "━" in drawn and "20000/20000 nodes" in drawn, drawn
    assert "copy: 20000 of 20000 nodes" in drawn
    copied = remote.run("ls", f"{space}:/into", "--json").records()
    assert [c["name"] for c in copied] == ["big"]


@pytest.mark.shapes(backends.EMBEDDED)
def test_ctrl_c_during_an_upload_commits_nothing(remote: Remote, tmp_path: Path) -> None:
    space = remote.new_space()
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: quick to make, 200 MiB to send
    with terminal(remote, "put", str(big), f"{space}:/up/") as t:
        t.read_until(lambda text: "0/1 files" in text)  # the bar is drawn: it has begun
        t.proc.send_signal(signal.SIGINT)
        status = t.finish()
    assert status == 130 and "interrupted" in t.text, t.text
    assert remote.run("ls", f"{space}:/up", "--json").records() == []


def test_tasks_list_cancel_wait_and_retry(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(workers=0)  # tasks wait until the test starts a worker
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    remote = Remote(server, tenant, Storage.of(server, sdk, tenant), tmp_path / "config")
    space = remote.new_space()
    remote.run("mkdir", "-p", f"{space}:/src/a/b", f"{space}:/src/c", f"{space}:/dst")

    started = remote.run("cp", "--no-wait", f"{space}:/src", f"{space}:/dst")
    task_id = started.stdout.strip()
    assert task_id.isdigit(), started
    listed = remote.run("tasks", "--json").records()
    assert [(t["id"], t["status"], t["kind"]) for t in listed] == [(task_id, "INIT", "copy")]
    table = remote.run("tasks", "--space", space).stdout
    assert task_id in table and "init" in table

    canceled = remote.run("tasks", "cancel", task_id, "--json").records()
    assert [c["id"] for c in canceled] == [task_id]
    engine = server.services.engine
    engine.concurrency = 1
    server.loop.call_soon_threadsafe(engine.start)
    try:
        waited = remote.run("tasks", "wait", task_id, ok=False)
        assert waited.status in (1, 4) and "canceled" in waited.stderr, waited
        failed = remote.run("tasks", "--status", "FAIL", "--json").records()
        assert [(t["id"], t.get("canceled")) for t in failed] == [(task_id, True)]
        retried = remote.run("tasks", "retry", task_id, "--json")
        summary = retried.records()[-1]["summary"]
        assert summary["status"] == "SUCCESS" and summary["taskIds"] != [task_id]
        assert sorted(
            r["name"] for r in remote.run("ls", f"{space}:/dst/src", "--json").records()
        ) == ["a", "c"]
    finally:
        server.run(engine.stop())
    again = remote.run("tasks", "retry", summary["taskIds"][0], ok=False)
    assert again.status == 1 and "taskNotRetryable" in again.stderr
