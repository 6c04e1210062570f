"""What the file-command tests share: the test's org as the commands see it (the four
``DINGSTORE_*`` variables naming its app and admin, on the module's live server), and running a
command as a user does — in this process through typer's runner (a process costs ~1.5 s of
imports), or as a process of its own when a terminal or a signal is what is tested."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from dingstore.cli import main
from tests.conftest import Tenant
from tests.live import LiveServer
from tests.storage import Storage


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str

    @classmethod
    def of(cls, done: subprocess.CompletedProcess[str]) -> Result:
        return cls(done.returncode, done.stdout, done.stderr)

    def records(self) -> list[dict[str, Any]]:
        """``--json`` output: one object a line, and nothing else."""
        return [json.loads(line) for line in self.stdout.splitlines()]


@dataclass
class Remote:
    """The test's org, reachable by the file commands."""

    server: LiveServer
    tenant: Tenant
    st: Storage
    config_dir: Path

    @property
    def env(self) -> dict[str, str]:
        app = self.tenant.boot.credentials
        assert app.app.app_key is not None
        return {
            "DINGSTORE_ENDPOINT": self.server.endpoint,
            "DINGSTORE_APP_KEY": app.app.app_key,
            "DINGSTORE_APP_SECRET": app.app_secret,
            "DINGSTORE_UNION_ID": self.tenant.admin_id,
            "DINGSTORE_CONFIG": str(self.config_dir / "profiles.json"),
        }

    def new_space(self) -> str:
        return str(self.st.new_space().id)

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        ok: bool = True,
    ) -> Result:
        """``dingstore ARGS`` in this process, with only this org's ``DINGSTORE_*`` settings (or
        ``env`` instead). ``ok``: it must exit 0. An exception other than the command's own
        exit fails the test (as a process it would have been a traceback)."""
        unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("DINGSTORE_")}
        given = self.env if env is None else env
        with contextlib.chdir(cwd or Path.cwd()):
            result = CliRunner(env={**unset, **given}).invoke(main.app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        done = Result(result.exit_code, result.stdout, result.stderr)
        if ok:
            assert done.status == 0, f"exit {done.status}\n{done.stdout}\n{done.stderr}"
        return done


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` by its relative path, as its sha256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def make_tree(root: Path, files: int, size: int, per_folder: int = 100) -> None:
    """``files`` files of ``size`` bytes of distinct content, ``per_folder`` to a folder
    (``d0/``, ``d1/``, ... with one nested level ``d0/e/``), plus a few at the top."""
    for n in range(files):
        folder = root / f"d{n // per_folder}"
        if n % per_folder >= per_folder // 2:
            folder = folder / "e"
        folder.mkdir(parents=True, exist_ok=True)
        seed = hashlib.sha256(str(n).encode()).digest()
        (folder / f"f{n}.bin").write_bytes((seed * (size // len(seed) + 1))[:size])


def process_env(remote: Remote) -> dict[str, str]:
    """The environment of a command run as a process: this org's settings, no others."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith("DINGSTORE_")}
    return {**plain, **remote.env}


def run_process(remote: Remote, *args: str) -> Result:
    """``dingstore ARGS`` as a process of its own, which must exit 0: for many transfers, whose
    threads would otherwise share this process's interpreter with the server's."""
    from tests.cli.test_admin import SRC

    env = {**process_env(remote), "PYTHONPATH": SRC}
    done = Result.of(
        subprocess.run(
            [sys.executable, "-m", "dingstore", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
    )
    assert done.status == 0, f"exit {done.status}\n{done.stdout}\n{done.stderr}"
    return done
