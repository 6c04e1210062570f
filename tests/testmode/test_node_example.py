"""The Node example (examples/node-testing) runs against a test-mode server: DingTalk's SDK for
Node, and the HTTP controls, from another language."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import LiveServer

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "node-testing"

pytestmark = pytest.mark.shapes("embedded")


@pytest.mark.heavy(4)  # node's start and the SDK's modules: a few seconds
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_example_passes(server: LiveServer) -> None:
    if not (EXAMPLE / "node_modules" / "@alicloud" / "dingtalk").is_dir():
        # what `make test` and CI run first; idempotent
        subprocess.run([str(ROOT / "scripts" / "node-tools")], check=True, timeout=600)
    done = subprocess.run(
        ["node", "--test", "--test-reporter=tap", "sync.test.js"],
        cwd=EXAMPLE,
        env={**os.environ, "DINGSTORE_URL": server.url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# pass 5" in done.stdout and "# fail 0" in done.stdout, done.stdout[-2000:]
