"""``dingstore --help`` lists the server's commands without importing the server (seconds of
imports), and each command's own help still comes from the command."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from dingstore.cli.main import SERVER_COMMANDS, app

PROBE = """
import json, sys
from typer.testing import CliRunner
from dingstore.cli.main import app
result = CliRunner().invoke(app, ["--help"], terminal_width=200)
loaded = sorted(m for m in sys.modules if m.startswith(("dingstore.service", "dingstore.cli.serve",
                "dingstore.cli.worker", "dingstore.cli.admin", "dingstore.api", "dingstore.store")))
print(json.dumps({"status": result.exit_code, "output": result.output, "loaded": loaded}))
"""


def test_the_listing_imports_no_server_module() -> None:
    ran = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    found = json.loads(ran.stdout)
    assert found["status"] == 0 and found["loaded"] == []
    words = " ".join(found["output"].replace("│", " ").split())  # the table's lines, unwrapped
    for name, line in SERVER_COMMANDS.items():
        assert f"{name} {line}" in words, found["output"]


def test_each_server_command_still_answers_its_own_help() -> None:
    runner = CliRunner()
    serve = runner.invoke(app, ["serve", "--help"], terminal_width=200)
    assert serve.exit_code == 0 and "--data-dir" in serve.output and "--test-mode" in serve.output
    admin = runner.invoke(app, ["admin", "--help"], terminal_width=200)
    assert admin.exit_code == 0 and "backup" in admin.output and "org" in admin.output
    worker = runner.invoke(app, ["worker", "--help"], terminal_width=200)
    assert worker.exit_code == 0 and "--concurrency" in worker.output
