"""docs/testing.md's worked example, examples/sync_app/, run as its users run it: pytest in a
process of its own, with the ``dingstore`` plugin as pytest loads it and the example's own
pytest.ini (none of this suite's conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "sync_app"

pytestmark = [pytest.mark.shapes("embedded"), pytest.mark.heavy(15)]


def test_the_sync_app_example_suite_passes() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), *sys.path])}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            # the plugin by its module, whether or not this checkout's entry point is installed
            "-p", "no:dingstore", "-p", "dingstore.testing.plugin",
            # plugins of this suite's environment that a user's need not have (they are slow to
            # load, or warn under the example's filterwarnings = error)
            "-p", "no:schemathesis", "-p", "no:asyncio", "-p", "no:hypothesispytest",
            "-p", "no:randomly", "-p", "no:xdist",
            str(EXAMPLE),
        ],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
