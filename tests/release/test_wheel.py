"""The package as a user gets it: the sdist and the wheel built from this checkout, the wheel
installed in a fresh virtualenv outside the checkout (with the official SDK and pytest),
``dingstore admin init`` and ``dingstore serve --data-dir`` run from that virtualenv, and the
README's SDK snippet run against the server; then a user's test file on the ``dingstore`` pytest
fixture (fixture_suite.py) run with that virtualenv's pytest, nothing else configured.
Migrations, templates and static files must all be inside the wheel.

Marked ``wheel``: it runs only when asked for (``pytest -m wheel``, ``make release-test``, which
CI runs after ``make test``). The installation reads this machine's package index (pip's
configuration). On a quiet 2-core machine it takes about 20 s (build 4 s, install 8 s, the rest
starting processes without byte-compiled modules); on a loaded one, minutes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.live import free_port
from tests.release.fixture_suite import USER_TESTS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "dingstore"
SDK = "alibabacloud-dingtalk==2.2.65"  # the dev extra's pin: the SDK the tests speak

pytestmark = pytest.mark.wheel


def _clean_env() -> dict[str, str]:
    """The test's environment without anything that points Python at the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DINGSTORE_"))}
    env.pop("VIRTUAL_ENV", None)
    return env


def _run(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _source_copy(to: Path) -> Path:
    """The checkout's files a build reads (the package, pyproject, MANIFEST.in and the files it
    names), copied aside: a build writes into its source tree, and tests run in parallel."""
    to.mkdir()
    for name in ("pyproject.toml", "MANIFEST.in", "README.md", "LICENSE", "CHANGELOG.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, to / name)
    shutil.copytree(
        ROOT / "src",
        to / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    return to


def _package_files() -> set[str]:
    """Every file under src/dingstore a user's installation needs, as wheel paths."""
    found = set()
    for path in PACKAGE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            found.add(path.relative_to(PACKAGE.parent).as_posix())
    return found


def _readme_snippet(port: int, app_key: str, app_secret: str, union_id: str) -> str:
    """The README's SDK snippet with this server's address and the store's credentials."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    snippet = next(b for b in blocks if "StorageClient(config)" in b)
    snippet = snippet.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    snippet = re.sub(r'app_key="[^"]*"', f'app_key="{app_key}"', snippet)
    snippet = re.sub(r'app_secret="[^"]*"', f'app_secret="{app_secret}"', snippet)
    snippet = re.sub(r'UNION_ID = "[^"]*"', f'UNION_ID = "{union_id}"', snippet)
    return re.sub(r'union_id="[^"]*"', f'union_id="{union_id}"', snippet)


def test_the_wheel_installs_and_serves_the_readme_snippet(tmp_path: Path) -> None:
    began = time.monotonic()
    source = _source_copy(tmp_path / "source")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "-q", "--outdir", str(dist), str(source)], tmp_path)
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    with zipfile.ZipFile(wheels[0]) as wheel:
        packed = {n for n in wheel.namelist() if n.startswith("dingstore/")}
    missing = sorted(_package_files() - packed)
    assert not missing, f"files under src/dingstore the wheel leaves out: {missing}"
    built = time.monotonic()

    # A fresh virtualenv outside the checkout; this test's pip installs into it (no pip of its
    # own, no byte-compiling: seconds, not a minute).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-compile"]
    _run([*pip, str(wheels[0]), SDK, "pytest"], tmp_path, timeout=600)
    installed = time.monotonic()
    where = _run([str(python), "-c", "import dingstore; print(dingstore.__file__)"], tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    dingstore = str(venv / "bin" / "dingstore")

    data = tmp_path / "data"
    made = json.loads(
        _run([dingstore, "admin", "init", "--json", "--data-dir", str(data)], tmp_path).stdout
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [dingstore, "serve", "--data-dir", str(data), "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.05)
        snippet = _readme_snippet(port, made["appKey"], made["appSecret"], made["unionId"])
        (tmp_path / "snippet.py").write_text(snippet)
        ran = _run([str(python), "snippet.py"], tmp_path, timeout=60)
        # The snippet's last line says what it prints, in a comment.
        printed = snippet.rstrip().splitlines()[-1].split("  # ", 1)[1]
        assert ran.stdout.strip() == printed, ran.stdout + ran.stderr
    finally:
        serve.terminate()
        code = serve.wait(timeout=30)
        log.close()
    assert code in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()

    # The pytest plugin, from the wheel's entry point: an in-process server of its own.
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_user.py").write_text(USER_TESTS)
    tested = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], suite)
    assert "2 passed" in tested.stdout, tested.stdout
    print(
        f"\nbuilt in {built - began:.1f} s, installed in {installed - built:.1f} s, "
        f"served in {time.monotonic() - installed:.1f} s"
    )
