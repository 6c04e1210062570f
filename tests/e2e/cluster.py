"""A scale-out deployment as real OS processes: ``dingstore serve --no-workers`` and
``dingstore worker`` on one PostgreSQL database and one S3 bucket, each process started,
SIGKILLed, restarted or stopped at will, its output kept in a log file of the data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests.live import free_port


@dataclass
class Process:
    """One dingstore process; ``args`` follow ``python -m dingstore``."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    port: int | None = None  # an API process: its health is awaited on start
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def api(cls, name: str, env: dict[str, str], log_dir: Path) -> Process:
        port = free_port()
        args = ["serve", "--no-workers", "--port", str(port)]
        return cls(name, args, env, log_dir, port=port)

    @classmethod
    def worker(cls, name: str, env: dict[str, str], log_dir: Path, concurrency: int) -> Process:
        return cls(name, ["worker", "--concurrency", str(concurrency)], env, log_dir)

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

    def start(self) -> Process:
        self.starts += 1
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dingstore", *self.args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """For an API process, until ``/healthz`` answers; for a worker, only that it lives."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.port is not None and time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if httpx.get(f"http://{self.endpoint}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        assert self.process.poll() is None, self.log()
        assert self.port is None, f"{self.name} did not become healthy:\n{self.log()}"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._close_log()

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit status (None if it had to be killed)."""
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

    def log(self) -> str:
        path = self.log_path
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def owner_pid(lease_owner: str | None) -> int | None:
    """The process id in a lease owner (``host:pid:n:tag``)."""
    parts = (lease_owner or "").split(":")
    return int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
