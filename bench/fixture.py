"""Benchmark dingstore as a test double (issue 17): how soon it is ready, what a test's org
costs, and how long a suite of SDK tests takes on the pytest plugin.

What is measured
----------------
* **In-process ready**: a fresh interpreter imports ``dingstore.testing`` and calls
  ``start_server()`` (the ``dingstore_server`` fixture's work: an ephemeral, test-mode server on
  a free loopback port, answering on return). Reported: the imports the start needs (the
  server's modules), the start itself, and both; the interpreter's own start is left out.
  ``--rounds`` fresh interpreters, the median kept. Target: ≤ 1 s.
* **``serve --ephemeral`` ready**: from spawning ``python -m dingstore serve --ephemeral`` to
  its first ``200`` from ``/healthz`` (polled every 5 ms), the interpreter's start included.
  ``--rounds`` processes, the median kept. Target: ≤ 2 s.
* **A test's org** (the ``dingstore`` fixture): ``new_org()`` then ``close()`` (what the
  fixture does before and after a test), ``--orgs`` times on one server: p50 and p99. And the
  first ``access_token()`` of an org. Target: ≤ 20 ms.
* **A suite**: ``--tests`` generated tests, each on its own ``dingstore`` org through the official
  SDK (GetAccessToken, AddSpace, AddFolder, ListDentries), run by pytest in a process of its
  own, serially and with ``-n 2`` (pytest-xdist: a server per worker). Reported: the wall time of
  the pytest process and the time pytest reports for the tests.

Results are printed and written to ``bench/results/fixture.json``.

Run: ``.venv/bin/python bench/fixture.py [--rounds 5] [--orgs 200] [--tests 200]``; a quick
check: ``--rounds 1 --orgs 20 --tests 20``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import common
from common import err, free_port, git_revision, nearest_rank, out, verdict
from rich.table import Table

READY_IN_PROCESS = """
import json, time
began = time.perf_counter()
import dingstore.testing
from dingstore.testing import server  # the server's modules, as the fixture imports them
imported = time.perf_counter()
started = dingstore.testing.start_server()
ready = time.perf_counter()
started.stop()
print(json.dumps({"import_s": imported - began, "start_s": ready - imported}))
"""

ORG_COSTS = """
import json, sys, time
from dingstore.testing import start_server
with start_server() as server:
    costs, tokens = [], []
    for _ in range(int(sys.argv[1])):
        began = time.perf_counter()
        org = server.new_org()
        made = time.perf_counter()
        org.access_token()
        tokens.append(time.perf_counter() - made)
        org.close()
        costs.append(time.perf_counter() - began - tokens[-1])
print(json.dumps({"org_s": costs, "token_s": tokens}))
"""

SUITE = """
import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m
from alibabacloud_dingtalk.storage_1_0.client import Client
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

RUNTIME = RuntimeOptions(autoretry=False)


@pytest.mark.parametrize("n", range({tests}))
def test_a_folder_in_a_new_space(dingstore, n):
    storage = Client(Config(protocol="http", endpoint=dingstore.endpoint))
    token = dingstore.access_token()
    space = storage.add_space_with_options(
        m.AddSpaceRequest(union_id=dingstore.union_id),
        m.AddSpaceHeaders(x_acs_dingtalk_access_token=token),
        RUNTIME,
    ).body.space.id
    storage.add_folder_with_options(
        space, "0", m.AddFolderRequest(union_id=dingstore.union_id, name=f"folder {{n}}"),
        m.AddFolderHeaders(x_acs_dingtalk_access_token=token), RUNTIME,
    )
    listed = storage.list_dentries_with_options(
        space, m.ListDentriesRequest(union_id=dingstore.union_id, parent_id="0"),
        m.ListDentriesHeaders(x_acs_dingtalk_access_token=token), RUNTIME,
    ).body.dentries
    assert [d.name for d in listed] == [f"folder {{n}}"]
"""

# the plugin by its module (installed entry point or not), and none of this project's own
# pytest plugins that a user's suite would not load
PYTEST_ARGS = [
    "-p", "no:dingstore", "-p", "dingstore.testing.plugin", "-p", "no:cacheprovider",
    "-p", "no:schemathesis", "-p", "no:asyncio", "-p", "no:hypothesispytest", "-p", "no:randomly",
]  # fmt: skip


def python(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise common.BenchError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def serve_ready() -> float:
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dingstore", "serve", "--ephemeral", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise common.BenchError(f"serve --ephemeral exited with {proc.returncode}")
            health = f"http://127.0.0.1:{port}/healthz"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - began
            time.sleep(0.005)
    finally:
        common.stop(proc)


def run_suite(directory: Path, workers: int | None) -> dict[str, float]:
    args = [sys.executable, "-m", "pytest", "-q", *PYTEST_ARGS]
    args += ["-p", "no:xdist"] if workers is None else ["-n", str(workers)]
    began = time.perf_counter()
    done = subprocess.run(
        [*args, str(directory)], cwd=directory, capture_output=True, text=True, timeout=1800
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise common.BenchError(done.stdout[-3000:] + done.stderr[-1000:])
    reported = re.search(r"passed in ([\d.]+)s", done.stdout)
    return {"wall_s": wall, "pytest_s": float(reported.group(1)) if reported else wall}


def work(stack: contextlib.ExitStack, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"params": vars(args), **git_revision()}

    err.print(f"in-process start, {args.rounds} fresh interpreters")
    rounds = [python(READY_IN_PROCESS) for _ in range(args.rounds)]
    in_process = {key: statistics.median(r[key] for r in rounds) for key in ("import_s", "start_s")}
    in_process["total_s"] = statistics.median(r["import_s"] + r["start_s"] for r in rounds)
    results["in_process"] = in_process

    err.print(f"serve --ephemeral, {args.rounds} processes")
    results["serve_ephemeral_s"] = statistics.median(serve_ready() for _ in range(args.rounds))

    err.print(f"{args.orgs} orgs on one server")
    costs = python(ORG_COSTS, str(args.orgs))
    org_ms = [1000 * c for c in costs["org_s"]]
    token_ms = [1000 * c for c in costs["token_s"]]
    results["org_ms"] = {"p50": statistics.median(org_ms), "p99": nearest_rank(org_ms, 99)}
    results["token_ms"] = {"p50": statistics.median(token_ms), "p99": nearest_rank(token_ms, 99)}

    suite = common.temp_dir(stack, "dingstore-bench-suite-")
    (suite / "test_suite.py").write_text(SUITE.format(tests=args.tests))
    (suite / "pytest.ini").write_text("[pytest]\n")
    err.print(f"a suite of {args.tests} SDK tests, serially")
    results["suite_serial"] = run_suite(suite, None)
    err.print(f"a suite of {args.tests} SDK tests, -n 2")
    results["suite_n2"] = run_suite(suite, 2)

    table = Table(title=f"dingstore as a test double ({os.cpu_count()} CPUs)")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    ready = in_process["total_s"]
    table.add_row(
        "in-process ready (imports + start)",
        f"{ready:.3f} s ({in_process['import_s']:.3f} + {in_process['start_s']:.3f})",
        f"≤ 1 s: {verdict(ready <= 1.0)}",
    )
    served = results["serve_ephemeral_s"]
    table.add_row(
        "serve --ephemeral ready (process)", f"{served:.3f} s", f"≤ 2 s: {verdict(served <= 2.0)}"
    )
    org = results["org_ms"]
    table.add_row(
        "a test's org (new_org + close)",
        f"p50 {org['p50']:.1f} ms, p99 {org['p99']:.1f} ms",
        f"≤ 20 ms: {verdict(org['p50'] <= 20)}",
    )
    token = results["token_ms"]
    table.add_row("its first access_token()", f"p50 {token['p50']:.1f} ms", "")
    for label, key in (("serially", "suite_serial"), ("-n 2", "suite_n2")):
        run = results[key]
        table.add_row(
            f"{args.tests} SDK tests, {label}",
            f"{run['wall_s']:.2f} s wall ({run['pytest_s']:.2f} s in pytest)",
            "",
        )
    out.print(table)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh starts timed (median)")
    parser.add_argument("--orgs", type=int, default=200, help="orgs made on one server")
    parser.add_argument("--tests", type=int, default=200, help="tests in the suite")
    args = parser.parse_args()
    common.widen_output()
    return common.run_benchmark(lambda stack: work(stack, args), "fixture")


if __name__ == "__main__":
    sys.exit(main())
