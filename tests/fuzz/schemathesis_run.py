"""Schemathesis over ``/openapi.json`` against a fresh embedded server (``make fuzz``, CI).

Creates a store in a temporary directory (``dingstore admin init``: an org, its admin and an app
holding every scope), starts ``dingstore serve`` on a free loopback port, takes a token for the
app, and runs schemathesis on every operation with that token and the admin's ``unionId``. The
checks: no server error (5xx), responses as the document describes them. Bounded by
``--max-time`` (default 90 s) and ``--max-examples`` per operation. Exits with schemathesis's
status: non-zero when it found a failure, or when the server died.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).parent
CHECKS = [
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
]


def dingstore(*args: str) -> list[str]:
    return [sys.executable, "-m", "dingstore", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server did not become healthy in {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=90, help="seconds for schemathesis")
    parser.add_argument("--max-examples", type=int, default=50, help="cases per operation")
    # One: schemathesis's workers are threads, and hypothesis describing a filter's lambda runs
    # ast.parse, which this CPython 3.11 cannot run in two threads at once (gh-106905:
    # "AST constructor recursion depth mismatch", a runtime error that failed CI).
    parser.add_argument("--workers", default="1")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--report-dir", type=Path, default=None, help="keep a JUnit report here")
    options = parser.parse_args()
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if schemathesis is None:
        raise SystemExit("schemathesis is not installed: pip install -e '.[dev]'")

    with tempfile.TemporaryDirectory(prefix="dingstore-fuzz-") as tmp:
        data = Path(tmp) / "data"
        made = json.loads(
            subprocess.run(
                dingstore("admin", "init", "--data-dir", str(data), "--json"),
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "serve.log"
        env = {**os.environ, "DINGSTORE_LOG_LEVEL": "WARNING"}
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                dingstore("serve", "--data-dir", str(data), "--port", str(port)),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            wait_healthy(url, server)
            answer = httpx.post(
                f"{url}/v1.0/oauth2/accessToken",
                json={"appKey": made["appKey"], "appSecret": made["appSecret"]},
            )
            answer.raise_for_status()
            token = answer.json()["accessToken"]
            command = [
                schemathesis,
                "--config-file",
                str(HERE / "schemathesis.toml"),
                "run",
                f"{url}/openapi.json",
                "--header",
                f"x-acs-dingtalk-access-token: {token}",
                "--checks",
                ",".join(CHECKS),
                "--max-examples",
                str(options.max_examples),
                "--max-time",
                str(options.max_time),
                "--workers",
                options.workers,
                "--request-timeout",
                "30",
                "--no-color",
            ]
            if options.seed is not None:
                command += ["--seed", str(options.seed)]
            if options.report_dir is not None:
                command += ["--report", "junit", "--report-dir", str(options.report_dir)]
            status = subprocess.run(
                command, env={**os.environ, "DINGSTORE_FUZZ_UNION_ID": made["unionId"]}
            ).returncode
            if server.poll() is not None:
                print(f"the server died during the run:\n{log_path.read_text()[-4000:]}")
                return 1
            return status
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
            logged = log_path.read_text(errors="replace").splitlines()
            problems = [line for line in logged if "ERROR" in line]
            if problems:
                print("server log errors:", *problems[-20:], sep="\n")


if __name__ == "__main__":
    sys.exit(main())
