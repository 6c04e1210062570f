"""A real dingstore server on a free loopback port, run in a thread of the test process, and
the official DingTalk SDK pointed at it; and ``python -m dingstore`` as an OS process, for what
only a process shows (signals, restarts, what it prints).

Running in-process lets a test reach the server's services (to create task rows the way the
engine would, or to make a service fail on purpose) while every call still crosses real HTTP.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import httpx
from alibabacloud_dingtalk.oauth2_1_0 import models as oauth_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuthClient
from alibabacloud_dingtalk.storage_1_0 import models as storage_models
from alibabacloud_dingtalk.storage_1_0.client import Client as StorageClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from dingstore.clock import ManualClock
from dingstore.settings import Settings
from dingstore.testing.server import ThreadedServer

T = TypeVar("T")

http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30)
"""The tests' plain HTTP client, one for the session: ``httpx.get`` and the like make a client
per call, and each loads the CA bundle (~50 ms, most of a test that downloads a few files).
No connection is kept open across calls, so each call is its own connection, as it was. Its
timeout is the SDK runtime's (30 s, below), not httpx's 5 s: on a loaded machine a small PUT
to the data plane once took longer (an fsync), and speed is the benchmarks' to judge."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port and kept, so no other process (an xdist worker
    in the same instant) can take the port before the server listens on it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer(ThreadedServer):
    """The production server in a thread of the test process (dingstore.testing's), on a clock
    the test moves: a test moves it past an expiry instead of sleeping."""

    clock: ManualClock

    def __init__(
        self,
        settings: Settings,
        clock: ManualClock | None = None,
        listener: socket.socket | None = None,
    ) -> None:
        """``listener``, when given, is a socket bound to ``settings.port`` to serve on."""
        super().__init__(
            settings, clock=ManualClock() if clock is None else clock, listener=listener
        )


@dataclass
class DingstoreProcess:
    """``python -m dingstore ARGS`` as an OS process, started, SIGKILLed, restarted or stopped
    at will. ``env`` is laid over the test's environment; the process's stdout and stderr go to
    ``<log_dir>/<name>-<n>.log`` for its ``n``-th start."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    port: int | None = None  # an API process: ``wait_ready`` awaits its health
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        assert self.port is not None
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> DingstoreProcess:
        self.starts += 1
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dingstore", *self.args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        return self

    def wait_ready(self, timeout: float = 60, interval: float = 0.05) -> None:
        """For an API process, until ``/healthz`` answers; for a worker, only that it lives."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.port is not None and time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if http.get(f"http://{self.endpoint}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(interval)
        assert self.process.poll() is None, self.log()
        assert self.port is None, f"{self.name} did not become healthy:\n{self.log()}"

    def kill(self) -> None:
        """SIGKILL, if it runs, and reap it."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._close_log()

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit status (None if it had to be killed, or never started)."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            self._close_log()
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        self._close_log()
        return code

    def output(self) -> str:
        """Everything the latest start printed, so far."""
        path = self.log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def log(self) -> str:
        """The end of :meth:`output`, for an assertion's message."""
        return self.output()[-4000:]

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Sdk:
    """The official SDK clients for one server, with the calls the tests make."""

    endpoint: str

    def __post_init__(self) -> None:
        config = Config(protocol="http", endpoint=self.endpoint)
        self.oauth = OAuthClient(config)
        self.storage = StorageClient(config)
        self.runtime = RuntimeOptions(autoretry=False, max_attempts=0, read_timeout=30000)

    def access_token(
        self, app_key: str, app_secret: str | None
    ) -> oauth_models.GetAccessTokenResponseBody:
        request = oauth_models.GetAccessTokenRequest(app_key=app_key, app_secret=app_secret)
        return self.oauth.get_access_token(request).body

    def corp_access_token(
        self, suite_key: str, suite_secret: str, auth_corp_id: str, suite_ticket: str
    ) -> oauth_models.GetCorpAccessTokenResponseBody:
        request = oauth_models.GetCorpAccessTokenRequest(
            suite_key=suite_key,
            suite_secret=suite_secret,
            auth_corp_id=auth_corp_id,
            suite_ticket=suite_ticket,
        )
        return self.oauth.get_corp_access_token(request).body

    def get_task(
        self, token: str | None, task_id: str, union_id: str | None
    ) -> storage_models.GetTaskResponse:
        return self.storage.get_task_with_options(
            task_id,
            storage_models.GetTaskRequest(union_id=union_id),
            storage_models.GetTaskHeaders(x_acs_dingtalk_access_token=token),
            self.runtime,
        )
