"""``dingstore serve`` as a process: first-start credentials that the SDK can use, health,
graceful SIGTERM, and no second announcement."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import sdk_error
from tests.live import Sdk, free_port


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "DINGSTORE_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dingstore",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_healthy(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def stop(process: subprocess.Popen[str], data_dir: Path) -> str:
    """SIGTERM; uvicorn shuts down gracefully, then re-raises the signal (its exit status)."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGTERM), err
    # The lifespan closed every connection: SQLite checkpointed and removed its WAL.
    assert not (data_dir / "dingstore.db-wal").exists()
    return out


def test_first_start_prints_working_credentials_once(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, port)
    try:
        wait_healthy(port, process)
    finally:
        out = stop(process, tmp_path)
    fields = dict(re.findall(r"│ (corpId|unionId|appKey|appSecret)\s+(\S+)", out))
    assert set(fields) == {"corpId", "unionId", "appKey", "appSecret"}
    assert fields["corpId"].startswith("ding")
    assert f'app_secret="{fields["appSecret"]}"' in out  # the snippet is copy-paste ready

    process = start(tmp_path, port)
    try:
        wait_healthy(port, process)
        sdk = Sdk(f"127.0.0.1:{port}")
        token = sdk.access_token(fields["appKey"], fields["appSecret"]).access_token
        err = sdk_error(lambda: sdk.get_task(token, "42", fields["unionId"]))
        assert err.code == "taskNotExist"
    finally:
        again = stop(process, tmp_path)
    assert fields["appSecret"] not in again and "appSecret" not in again
    assert fields["appSecret"] not in (tmp_path / "dingstore.db").read_bytes().decode("latin-1")
