"""The getting-started pages run: every Python block of docs/getting-started/, in nav order, is
one script, and every JavaScript block one Node module (tests/docs/snippets.py); both run at
once against one live server, each for an org of its own (its app's key and secret, its admin's
unionId and the server's endpoint in the environment variables the pages tell the reader to
set), and each must exit 0 having printed every line of the pages' *Output* blocks, in order.

The Node module imports DingTalk's official Node SDK from tests/docs/node/node_modules, which
``scripts/node-tools`` installs (``npm ci`` from the committed lock file; ``make test`` and
.ci/run run it first). Without node or that install, the Node test skips and says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import new_tenant
from tests.docs import snippets
from tests.live import LiveServer, Sdk

pytestmark = pytest.mark.shapes("embedded")  # the pages' code sees the SDK, not the backend

NODE = shutil.which("node")
NODE_MODULES = Path(__file__).parent / "node" / "node_modules"


def _environment(server: LiveServer) -> dict[str, str]:
    """A new org's credentials, as the pages read them."""
    tenant = new_tenant(server, Sdk(server.endpoint))
    app = tenant.boot.credentials
    assert app.app.app_key is not None
    return {
        **os.environ,
        "DINGSTORE_ENDPOINT": server.endpoint,
        "DINGSTORE_APP_KEY": app.app.app_key,
        "DINGSTORE_APP_SECRET": app.app_secret,
        "DINGSTORE_UNION_ID": tenant.admin_id,
        "PYTHONWARNINGS": "ignore::DeprecationWarning",  # the SDK's own, not the pages'
    }


def _node_command(tmp_path: Path) -> list[str]:
    if NODE is None:
        pytest.skip("no node: the getting-started pages' JavaScript is not run")
    if not (NODE_MODULES / "@alicloud" / "dingtalk").is_dir():
        pytest.skip("no Node SDK in tests/docs/node: run scripts/node-tools (make test does)")
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)  # found from the module's folder
    module = tmp_path / "getting-started.mjs"
    module.write_text(snippets.script("js"))
    return [NODE, str(module)]


def _python_command(tmp_path: Path) -> list[str]:
    script = tmp_path / "getting_started.py"
    script.write_text(snippets.script("python"))
    return [sys.executable, str(script)]


def _checked(name: str, run: subprocess.Popen[str]) -> None:
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, f"{name} failed:\n{out}\n{err[-3000:]}"
    assert snippets.missing(out) == [], f"{name} printed:\n{out}"


@pytest.mark.parametrize("language", ["python", "js"])
def test_the_getting_started_code_runs_and_prints_what_the_pages_say(
    server: LiveServer, tmp_path: Path, language: str
) -> None:
    command = _python_command(tmp_path) if language == "python" else _node_command(tmp_path)
    run = subprocess.Popen(
        command,
        env=_environment(server),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _checked(language, run)


@pytest.mark.parametrize("page", snippets.PAGES)
def test_each_step_is_shown_in_both_languages(page: str) -> None:
    """As many Python blocks as JavaScript ones on every page, each followed by its twin."""
    code = [lang for lang, _, _ in snippets.blocks(page) if lang in ("python", "js")]
    assert code, f"{page} has no code"
    assert code == ["python", "js"] * (len(code) // 2), code


def test_the_output_check_refuses_what_the_pages_do_not_say() -> None:
    said = [re.sub(r"<[^>]+>", "x1", line) for line in snippets.outputs()]
    assert len(said) >= 10, said
    assert snippets.missing("\n".join(["noise", *said])) == []
    assert snippets.missing("\n".join(said[:-1])) == [snippets.outputs()[-1]]
    assert snippets.missing("\n".join(said).replace("SUCCESS", "FAIL")) != []
    assert snippets.missing("\n".join(reversed(said))) != []


def test_the_readme_s_round_trip_runs(server: LiveServer, tmp_path: Path) -> None:
    """README.md's Python block, with the first start's values it shows replaced by a new
    org's: it uploads and prints what it downloads."""
    readme = (snippets.DOCS.parent / "README.md").read_text()
    (code,) = re.findall(r"^```python\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    env = _environment(server)
    for shown, real in (
        ('"127.0.0.1:8080"', env["DINGSTORE_ENDPOINT"]),
        ('"nu74017m69k9f0ypi3k8"', env["DINGSTORE_UNION_ID"]),
        ('"ding18yaiy4ud3mjkysc"', env["DINGSTORE_APP_KEY"]),
        ('"aAfZ..."', env["DINGSTORE_APP_SECRET"]),
    ):
        assert shown in code, shown
        code = code.replace(shown, repr(real))
    script = tmp_path / "readme.py"
    script.write_text(code)
    run = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err[-3000:]
    assert out == "b'Hello, dingstore!\\n'\n"
