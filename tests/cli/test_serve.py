"""``dingstore serve`` as a process: first-start credentials that the SDK can use, health,
graceful SIGTERM, and no second announcement."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from tests.conftest import sdk_error
from tests.live import DingstoreProcess, Sdk, free_port


def serve(data_dir: Path, port: int) -> DingstoreProcess:
    args = ["serve", "--data-dir", str(data_dir), "--port", str(port)]
    return DingstoreProcess("serve", args, {"DINGSTORE_LOG_LEVEL": "WARNING"}, data_dir, port=port)


def stop(process: DingstoreProcess, data_dir: Path) -> str:
    """SIGTERM; uvicorn shuts down gracefully, then re-raises the signal (its exit status). What
    the process printed."""
    assert process.stop() in (0, -signal.SIGTERM), process.log()
    # The lifespan closed every connection: SQLite checkpointed and removed its WAL.
    assert not (data_dir / "dingstore.db-wal").exists()
    return process.output()


def test_first_start_prints_working_credentials_once(tmp_path: Path) -> None:
    port = free_port()
    process = serve(tmp_path, port).start()
    try:
        process.wait_ready(timeout=30, interval=0.1)
    finally:
        out = stop(process, tmp_path)
    fields = dict(re.findall(r"│ (corpId|unionId|appKey|appSecret)\s+(\S+)", out))
    assert set(fields) == {"corpId", "unionId", "appKey", "appSecret"}
    assert fields["corpId"].startswith("ding")
    assert f'app_secret="{fields["appSecret"]}"' in out  # the snippet is copy-paste ready

    process.start()
    try:
        process.wait_ready(timeout=30, interval=0.1)
        sdk = Sdk(f"127.0.0.1:{port}")
        token = sdk.access_token(fields["appKey"], fields["appSecret"]).access_token
        err = sdk_error(lambda: sdk.get_task(token, "42", fields["unionId"]))
        assert err.code == "taskNotExist"
    finally:
        again = stop(process, tmp_path)
    assert fields["appSecret"] not in again and "appSecret" not in again
    assert fields["appSecret"] not in (tmp_path / "dingstore.db").read_bytes().decode("latin-1")
