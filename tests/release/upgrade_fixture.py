"""The previous release's store, for tests/release/test_upgrade.py: what it holds, how to read
it back through the API, and how to make it again.

``fixtures/<release>.tar.gz`` is a data dir (``dingstore.db``, ``secret.key``, ``blobs/``) made
by that release's own code: its migrations made the schema, its server took the data through
the SDK. ``fixtures/<release>.json`` says what the store holds (credentials, listings, each
file's versions' SHA-256, tasks, the recycle bin) as read back through that release's API.

To make a release's fixture again, from a checkout of this repository:

    git worktree add --detach /tmp/previous <release's commit>
    .venv/bin/python -m tests.release.upgrade_fixture /tmp/previous/src tests/release/fixtures/NAME

The previous release of issue 20 is main at 41cecb2 (version 0.1.0, migrations to 0011), the
last commit before the session that made 0.2.0; there is no earlier tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.live import Sdk, free_port, http
from tests.storage import Storage

FIXTURES = Path(__file__).with_name("fixtures")


def walk(st: Storage, space_id: str, parent: str = "0", prefix: str = "") -> list[list[Any]]:
    """Every visible node of a space as [path, type, size, id], sorted by path."""
    found: list[list[Any]] = []
    for entry in st.list_dentries(space_id, parent):
        path = f"{prefix}/{entry.name}"
        found.append([path, entry.type, int(entry.size or 0), str(entry.id)])
        if entry.type == "FOLDER":
            found += walk(st, space_id, str(entry.id), path)
    return sorted(found)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def describe(st: Storage, corp_id: str, spaces: list[str], task_ids: list[str]) -> dict[str, Any]:
    """What the store holds, read through the API: the same reading before and after an upgrade
    must give the same answer."""
    listing = {space: walk(st, space) for space in spaces}
    files: dict[str, dict[str, str]] = {}
    for space, nodes in listing.items():
        for _, kind, _, dentry in nodes:
            if kind == "FILE":
                versions = st.versions(space, dentry)
                files[f"{space}/{dentry}"] = {
                    str(v.version): sha256(st.download(space, dentry, version=int(v.version)))
                    for v in versions
                }
    tasks = {}
    for task_id in task_ids:
        task = st.get_task(task_id)
        tasks[task_id] = [task.status, task.total_count, task.success_count, task.fail_count]
    bin_id = str(st.get_recycle_bin(corp_id).id)
    recycled = sorted(
        [str(item.original_path), str(item.id), str(item.dentry_id)]
        for item in st.recycle_items(bin_id)
    )
    return {"listing": listing, "files": files, "tasks": tasks, "recycled": recycled}


def _fill(st: Storage, corp_id: str) -> tuple[list[str], list[str]]:
    """Spaces, folders, files with versions and app properties, a finished copy task and the
    recycle bin, made through the API."""
    docs = st.new_space(name="docs").id
    archive = st.new_space(name="archive").id
    reports = st.add_folder(docs, "reports").id
    year = st.add_folder(docs, "2025", reports).id
    st.upload(docs, b"first draft\n", "r1.txt", reports)
    st.upload(docs, b"second draft\n", "r1.txt", reports, conflict_strategy="OVERWRITE")
    st.upload(docs, os.urandom(64 * 1024), "r2.bin", reports)
    st.upload(docs, b"q1 figures\n", "q.txt", year, app_properties=[("tag", "q1", "PUBLIC")])
    st.upload(docs, b"# docs\n", "readme.md")
    trash = st.upload(docs, b"thrown away\n", "trash.txt")
    st.delete(docs, str(trash.id), to_recycle_bin=True)
    copied = st.copy(docs, reports, archive)
    task_id = str(copied.task_id)
    assert st.wait_task(task_id).status == "SUCCESS"
    return [docs, archive], [task_id]


def make(previous_src: Path, out: Path) -> None:
    """Run the previous release (its ``src`` directory) and fill a store through the SDK; write
    ``out.tar.gz`` and ``out.json``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGSTORE_", "PYTHON"))}
    env |= {"PYTHONPATH": str(previous_src), "DINGSTORE_LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        made = json.loads(
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dingstore",
                    "admin",
                    "init",
                    "--json",
                    "--data-dir",
                    str(data),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        port = free_port()
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dingstore",
                "serve",
                "--data-dir",
                str(data),
                "--port",
                str(port),
            ],
            env=env,
        )
        try:
            for _ in range(600):
                try:
                    if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except Exception:
                    time.sleep(0.05)
            sdk = Sdk(f"127.0.0.1:{port}")
            token = sdk.access_token(made["appKey"], made["appSecret"]).access_token
            st = Storage(None, sdk, token, made["unionId"])  # type: ignore[arg-type]
            spaces, tasks = _fill(st, made["corpId"])
            held = describe(st, made["corpId"], spaces, tasks)
        finally:
            serve.terminate()
            serve.wait(timeout=30)
        with sqlite3.connect(data / "dingstore.db") as conn:
            (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode = DELETE")
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(out.parent / f"{out.name}.tar.gz", "w:gz") as tar:
            tar.add(data, arcname="data")
    facts = {"revision": revision, "credentials": made, "spaces": spaces, "task_ids": tasks}
    (out.parent / f"{out.name}.json").write_text(json.dumps({**facts, **held}, indent=1) + "\n")


if __name__ == "__main__":
    make(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
