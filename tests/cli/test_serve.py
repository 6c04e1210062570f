"""``dingstore serve`` as a process: first-start credentials that the SDK can use, health,
graceful SIGTERM, and no second announcement."""

from __future__ import annotations

import re
import signal
import socket
import time
from pathlib import Path

from tests.conftest import sdk_error
from tests.live import DingstoreProcess, Sdk, free_port, http
from tests.streams import StreamClient


def serve(data_dir: Path, port: int, log_dir: Path | None = None) -> DingstoreProcess:
    args = ["serve", "--data-dir", str(data_dir), "--port", str(port)]
    env = {"DINGSTORE_LOG_LEVEL": "WARNING"}
    return DingstoreProcess("serve", args, env, log_dir or data_dir, port=port)


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
        # the banner's console link signs the admin in, once
        link = re.search(rf"http://\S+:{port}/console/signin/(\S+)", out)
        assert link is not None, out
        signed = http.post(f"http://127.0.0.1:{port}/console/signin", data={"token": link.group(1)})
        assert signed.status_code == 303 and "dingstore_console" in signed.headers["set-cookie"]
    finally:
        again = stop(process, tmp_path)
    assert "/console/signin/" not in again
    assert fields["appSecret"] not in again and "appSecret" not in again
    assert fields["appSecret"] not in (tmp_path / "dingstore.db").read_bytes().decode("latin-1")


def test_first_start_on_a_taken_port_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        process = serve(data, port, log_dir=tmp_path).start()
        assert process.process is not None
        process.process.wait(timeout=60)
        assert process.stop() == 1  # it had ended: its exit status
    out = process.output()
    assert f"cannot listen on 127.0.0.1:{port}" in out and "Nothing was created" in out, out
    assert "appSecret" not in out and "Traceback" not in out
    assert not data.exists()  # no store, so no org: the next start is a first start

    process = serve(data, free_port(), log_dir=tmp_path).start()
    try:
        process.wait_ready(timeout=30, interval=0.1)
    finally:
        out = stop(process, data)
    assert re.search(r"│ appSecret\s+\S+", out), out


def test_sigterm_tells_stream_clients_to_disconnect(tmp_path: Path) -> None:
    """The production server (uvloop, ``api/server.py``) upgrades the Stream WebSocket and,
    on SIGTERM, sends ``disconnect`` before it closes anything: the SDK closes cleanly."""
    port = free_port()
    process = serve(tmp_path, port)
    process.env["DINGSTORE_STREAM_PING_INTERVAL"] = "0.2"
    process.start()
    client = None
    try:
        process.wait_ready(timeout=30, interval=0.1)
        fields = dict(re.findall(r"│ (appKey|appSecret)\s+(\S+)", process.output()))
        url = f"http://127.0.0.1:{port}"
        client = StreamClient(url, fields["appKey"], fields["appSecret"], "ok", tmp_path / "c.log")
        assert client.next("system", timeout=30)["topic"] == "ping"  # connected
        began = time.monotonic()
        stop(process, tmp_path)
        assert time.monotonic() - began < 8, "the drain waited for its 10 s timeout"
        while (frame := client.next("system"))["topic"] == "ping":
            pass
        assert frame["topic"] == "disconnect"
        assert "received disconnect" in client.log()
    finally:
        if process.running:
            stop(process, tmp_path)
        if client is not None:
            client.stop()
