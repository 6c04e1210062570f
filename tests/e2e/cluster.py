"""A scale-out deployment as real OS processes: ``dingstore serve --no-workers`` and
``dingstore worker`` on one PostgreSQL database and one S3 bucket, each process started,
SIGKILLed, restarted or stopped at will, its output kept in a log file of the data dir."""

from __future__ import annotations

from pathlib import Path

from tests.live import DingstoreProcess, free_port


class Process(DingstoreProcess):
    """One dingstore process of the deployment; ``args`` follow ``python -m dingstore``."""

    @classmethod
    def api(cls, name: str, env: dict[str, str], log_dir: Path) -> Process:
        port = free_port()
        args = ["serve", "--no-workers", "--port", str(port)]
        return cls(name, args, env, log_dir, port=port)

    @classmethod
    def worker(cls, name: str, env: dict[str, str], log_dir: Path, concurrency: int) -> Process:
        return cls(name, ["worker", "--concurrency", str(concurrency)], env, log_dir)


def owner_pid(lease_owner: str | None) -> int | None:
    """The process id in a lease owner (``host:pid:n:tag``)."""
    parts = (lease_owner or "").split(":")
    return int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
