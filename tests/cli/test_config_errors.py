"""A setting that cannot work, whichever check finds it (the settings, the database URL, the
blob URL), ends any command the same way: one line on stderr, exit status 2, no traceback,
nothing created."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dingstore as dingstore_package
from dingstore.cli import main

SRC = str(Path(dingstore_package.__file__).parent.parent)

BAD = [
    ("DINGSTORE_TOKEN_TTL", "-1", "DINGSTORE_TOKEN_TTL (got '-1'): Input should be greater than 0"),
    (
        "DINGSTORE_WORKERS",
        "many",
        "DINGSTORE_WORKERS (got 'many'): Input should be a valid integer",
    ),
    ("DINGSTORE_RATE_LIMITS", "{GetTask: 5}", "DINGSTORE_RATE_LIMITS: not valid JSON"),
    ("DINGSTORE_RATE_LIMITS", '{"GetTask": "x"}', "DINGSTORE_RATE_LIMITS[GetTask] (got 'x')"),
    ("DINGSTORE_LOG_LEVEL", "loud", "DINGSTORE_LOG_LEVEL (got 'loud'): not a log level"),
    ("DINGSTORE_DATABASE_URL", "mysql://db/x", "DINGSTORE_DATABASE_URL: unsupported scheme"),
    ("DINGSTORE_BLOB_URL", "ftp://files", "blob URL 'ftp://files' is not supported"),
    ("DINGSTORE_BLOB_URL", "s3://Bad_Bucket", "the bucket name must be 3-63 of"),
]


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``dingstore ARGS`` in this process, with ``env`` as its only ``DINGSTORE_*`` settings."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("DINGSTORE_")}
    result = CliRunner(env={**unset, **env}).invoke(main.app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # as a process it would have been a traceback
    return result.exit_code, result.stdout, result.stderr


def assert_refused(status: int, stdout: str, stderr: str, says: str) -> None:
    assert status == 2, stderr
    assert stdout == "" and "Traceback" not in stderr
    assert stderr.startswith("error: configuration: ") and stderr.count("\n") == 1, stderr
    assert says in stderr, stderr


@pytest.mark.parametrize(("name", "value", "says"), BAD)
def test_admin_init_refuses_a_bad_setting(name: str, value: str, says: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert_refused(*run({name: value}, "admin", "init", "--data-dir", str(data)), says)
    assert not data.exists()


def test_worker_refuses_a_bad_flag(tmp_path: Path) -> None:
    status, stdout, stderr = run({}, "worker", "--data-dir", str(tmp_path), "--concurrency", "-1")
    assert_refused(status, stdout, stderr, "DINGSTORE_WORKERS (got -1)")


def test_serve_refuses_a_bad_setting_before_making_anything(tmp_path: Path) -> None:
    """As an operator runs it: a process of its own, its exit status and all it printed."""
    data = tmp_path / "data"
    plain = {k: v for k, v in os.environ.items() if not k.startswith("DINGSTORE_")}
    with contextlib.chdir(tmp_path):
        done = subprocess.run(
            [sys.executable, "-m", "dingstore", "serve", "--data-dir", str(data), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**plain, "PYTHONPATH": SRC, "DINGSTORE_BLOB_URL": "file://relative/blobs"},
        )
    says = "a file URL names an absolute local path"
    assert_refused(done.returncode, done.stdout, done.stderr, says)
    assert not data.exists()
