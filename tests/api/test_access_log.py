"""The access log (``dingstore.access``): one line per request with its request id, operation,
status and duration, on by default, off with ``DINGSTORE_ACCESS_LOG=false``; and log lines are
readable on a terminal, JSON otherwise (``DINGSTORE_LOG_JSON``)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dingstore import logs
from tests.conftest import Tenant
from tests.live import DingstoreProcess, LiveServer, free_port, http


def access_record(caplog: pytest.LogCaptureFixture, request_id: str) -> logging.LogRecord:
    """The access line of ``request_id``: written once the response is sent, so waited for."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [
            r
            for r in caplog.records
            if r.name == "dingstore.access" and getattr(r, "requestid", None) == request_id
        ]
        if found:
            assert len(found) == 1
            return found[0]
        time.sleep(0.01)
    raise AssertionError(f"no access line for {request_id}")


def test_one_line_per_request(
    server: LiveServer, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dingstore.access")
    task = http.get(
        f"{server.url}/v1.0/storage/tasks/42",
        params={"unionId": tenant.admin_id},
        headers={"x-acs-dingtalk-access-token": tenant.token},
    )
    assert task.status_code == 404
    record = access_record(caplog, task.headers["x-acs-request-id"])
    assert (record.operation, record.status, record.method) == ("GetTask", 404, "GET")  # type: ignore[attr-defined]
    assert record.path == "/v1.0/storage/tasks/42"  # type: ignore[attr-defined]
    assert isinstance(record.duration_ms, float) and record.duration_ms > 0  # type: ignore[attr-defined]
    assert record.getMessage().startswith("GetTask 404 ")

    health = http.get(server.url + "/healthz")
    record = access_record(caplog, health.headers["x-acs-request-id"])
    assert record.status == 200  # type: ignore[attr-defined]

    nowhere = http.get(server.url + "/nowhere")
    record = access_record(caplog, nowhere.headers["x-acs-request-id"])
    assert (record.operation, record.status) == ("-", 404)  # type: ignore[attr-defined]


def test_a_setting_turns_it_off(
    make_server: Callable[..., LiveServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dingstore.access")
    server = make_server(access_log=False)
    for _ in range(3):
        assert http.get(server.url + "/healthz").status_code == 200
    time.sleep(0.2)
    assert [r for r in caplog.records if r.name == "dingstore.access"] == []


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_readable_on_a_terminal_json_otherwise() -> None:
    assert isinstance(logs.formatter_for(Tty(), None), logs.TextFormatter)
    assert isinstance(logs.formatter_for(io.StringIO(), None), logs.JsonFormatter)
    assert isinstance(logs.formatter_for(Tty(), True), logs.JsonFormatter)
    assert isinstance(logs.formatter_for(io.StringIO(), False), logs.TextFormatter)


def test_a_readable_line_carries_the_request_id() -> None:
    record = logging.makeLogRecord(
        {"name": "dingstore.access", "levelname": "INFO", "msg": "GetTask 200 1.50 ms"}
    )
    record.requestid = "E4C78975-9D97-48E9-9975-958A044DE440"
    line = logs.TextFormatter().format(record)
    assert line.endswith(
        " INFO dingstore.access [E4C78975-9D97-48E9-9975-958A044DE440]: GetTask 200 1.50 ms"
    )
    record.requestid = None
    assert (
        logs.TextFormatter().format(record).endswith(" INFO dingstore.access: GetTask 200 1.50 ms")
    )


def test_serve_writes_json_access_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    port = free_port()
    args = ["serve", "--data-dir", str(tmp_path), "--port", str(port)]
    process = DingstoreProcess("serve", args, {"DINGSTORE_LOG_LEVEL": "INFO"}, tmp_path, port=port)
    process.start()
    try:
        process.wait_ready(timeout=30, interval=0.1)
        rid = http.get(f"http://127.0.0.1:{port}/healthz").headers["x-acs-request-id"]
        deadline = time.monotonic() + 5
        while rid not in process.output() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.stop()
    lines = [line for line in process.output().splitlines() if rid in line]
    assert len(lines) == 1, process.log()
    entry = json.loads(lines[0])
    assert entry["logger"] == "dingstore.access" and entry["requestid"] == rid
    assert (entry["operation"], entry["status"]) == ("healthz", 200)
    assert (entry["method"], entry["path"]) == ("GET", "/healthz")
    assert isinstance(entry["duration_ms"], float)
