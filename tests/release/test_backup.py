"""``dingstore admin backup`` while a server copies a big tree, ``dingstore admin restore`` into
a new data dir, and a server on the restored store: the store as of one commit, every invariant
kept, every file's bytes intact, and the copy resumed and finished (service/backups.py).

The default run backs up during the copy of a 2k-node tree; the same test on a 20k-node tree
(issue 20's size) is marked ``backup20k`` and runs only when asked for (``pytest -m
backup20k``, ``make release-test``, which CI runs): it copies ten times the files, over the
default run's budget."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dingstore.cli import main
from dingstore.clock import ManualClock
from dingstore.service import backups
from dingstore.settings import Settings
from dingstore.store import database, schema
from tests.cli.test_admin import command
from tests.engine import trees
from tests.engine.crashes import RUNNABLE
from tests.engine.trees import Store
from tests.live import LiveServer, Sdk, bound_socket
from tests.storage import Storage

pytestmark = pytest.mark.shapes("embedded")  # PostgreSQL and a bucket: docs/deploy.md


def _content(blob_id: int, size: int) -> bytes:
    seed = hashlib.sha256(str(blob_id).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def _write_blobs(data_dir: Path) -> dict[int, str]:
    """A file for every blob row the seeding made (it writes rows only); their SHA-256s."""
    with sqlite3.connect(data_dir / "dingstore.db") as conn:
        rows = conn.execute("SELECT id, size FROM blobs").fetchall()
    root = data_dir / "blobs" / "blobs"
    root.mkdir(parents=True, exist_ok=True)
    sums = {}
    for blob_id, size in rows:
        data = _content(int(blob_id), int(size))
        (root / str(blob_id)).write_bytes(data)
        sums[int(blob_id)] = hashlib.sha256(data).hexdigest()
    return sums


def _task(path: Path, task_id: int) -> tuple[str, int, int]:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT status, success_count, total_count FROM tasks WHERE id = ?", (task_id,)
        ).fetchone()
    return str(row[0]), int(row[1]), int(row[2] or 0)


def _referenced(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [int(i) for (i,) in conn.execute("SELECT id FROM blobs WHERE refcount > 0")]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _serve(data_dir: Path, **settings: object) -> LiveServer:
    """A server in this process on the store in ``data_dir``, with one task worker."""
    listener = bound_socket()
    port = listener.getsockname()[1]
    given = Settings(data_dir=data_dir, port=port, workers=1, log_json=False, **settings)
    return LiveServer(given, ManualClock(), listener).start()


def _backup_during_a_copy(tmp_path: Path, size: int) -> None:
    began = time.monotonic()
    old, saved, new = tmp_path / "old", tmp_path / "backup", tmp_path / "new"
    # Small steps: the copy is still running when the backup's snapshot is taken.
    server = _serve(old, task_chunk=20)
    try:
        services = server.services
        acct = server.run(trees.new_account(services))
        source = server.run(trees.new_space(services, acct, "from"))
        target = server.run(trees.new_space(services, acct, "to"))
        seeded = server.run(trees.seed_tree(services, acct, source, "tree", size))
        before = server.run(trees.tree(services.db, source))
        sums = _write_blobs(old)
        seeded_at = time.monotonic()

        st = Storage(server, Sdk(server.endpoint), acct.token, acct.union_id)
        uploaded = st.upload(str(source), b"uploaded through the data plane", "note.txt")
        pending = st.upload_info(str(source))  # its bytes sent, not yet committed
        assert st.put(pending, b"committed after the restore").status_code == 200
        task_id = int(st.copy(str(source), str(seeded.root_id), str(target)).task_id)
        deadline = time.monotonic() + 60
        while _task(old / "dingstore.db", task_id)[1] == 0:
            assert time.monotonic() < deadline, "the copy did not start"
            time.sleep(0.01)
        backed = command("admin", "backup", "--to", str(saved), "--data-dir", str(old), "--json")
        assert backed.returncode == 0, backed.stderr
        # While the backup copied the blobs, the server went on copying (and serving).
        late = st.upload(str(source), b"written after the backup", "late.txt")
    finally:
        server.stop()
    backed_at = time.monotonic()
    status, done, total = _task(saved / backups.DATABASE, task_id)
    assert status in RUNNABLE and 0 < done < total == size, (status, done, total)
    manifest = json.loads((saved / backups.MANIFEST).read_text())
    late_blob = _blob_of(old, int(late.id))
    assert (old / "blobs" / "blobs" / str(late_blob)).exists()
    assert f"blobs/blobs/{late_blob}" not in manifest["files"]  # written after the snapshot
    with sqlite3.connect(saved / backups.DATABASE) as conn:
        (upload_blob,) = conn.execute("SELECT blob_id FROM uploads").fetchone()
    assert f"blobs/blobs/{upload_blob}" in manifest["files"]  # an upload's bytes, uncommitted

    restored = command("admin", "restore", "--from", str(saved), "--data-dir", str(new), "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["tasksResumed"] == 1
    restored_at = time.monotonic()

    # Every blob the restored store references has its file, byte for byte.
    referenced = _referenced(new / backups.DATABASE)
    assert len(referenced) == len(sums) + 1  # the seeded blobs and the one uploaded
    for blob_id in referenced:
        path = new / "blobs" / "blobs" / str(blob_id)
        if blob_id in sums:
            assert _sha256(path) == sums[blob_id], blob_id
        else:  # uploaded through the API: its ETag (an extended attribute) came with it
            assert path.read_bytes() == b"uploaded through the data plane"
            original = old / "blobs" / "blobs" / str(blob_id)
            etag = "user.dingstore.etag"
            assert os.getxattr(path, etag) == os.getxattr(original, etag)

    # A server on the restored store takes the copy over at once and finishes it; the app's
    # token of before the backup still works (the store's key came with it).
    server = _serve(new)
    try:
        st = Storage(server, Sdk(server.endpoint), acct.token, acct.union_id)
        task = st.wait_task(str(task_id), timeout=60)
        assert (task.status, task.success_count, task.total_count) == ("SUCCESS", size, size)
        assert st.download(str(source), str(uploaded.id)) == b"uploaded through the data plane"
        later = st.commit(str(source), pending.upload_key, "pending.txt")
        assert st.download(str(source), str(later.id)) == b"committed after the restore"
        copied = _files(new, target)
        assert len(copied) > size // 2
        for dentry in copied[:: len(copied) // 20]:  # bytes through the API, a sample
            data = st.download(str(target), str(dentry))
            assert hashlib.sha256(data).hexdigest() in sums.values()
        db = server.services.db
        assert server.run(trees.problems(db)) == []
        assert server.run(trees.tree(db, target)) == before
        d = schema.dentries
        assert server.run(trees.count_where(db, d, d.c.id == int(late.id))) == 0
    finally:
        server.stop()
    print(
        f"\n{size} nodes: seeded {seeded_at - began:.1f} s, backed up during the copy "
        f"{backed_at - seeded_at:.1f} s, restored {restored_at - backed_at:.1f} s, resumed and "
        f"checked {time.monotonic() - restored_at:.1f} s"
    )


def _files(data_dir: Path, space_id: int) -> list[int]:
    with sqlite3.connect(data_dir / backups.DATABASE) as conn:
        found = conn.execute(
            "SELECT id FROM dentries WHERE space_id = ? AND type = 'FILE' ORDER BY id", (space_id,)
        )
        return [int(i) for (i,) in found]


@pytest.mark.heavy(12)
def test_backup_during_a_copy_restores_and_resumes(tmp_path: Path) -> None:
    _backup_during_a_copy(tmp_path, 2_000)


@pytest.mark.backup20k
def test_backup_during_a_20k_node_copy(tmp_path: Path) -> None:
    _backup_during_a_copy(tmp_path, 20_000)


# --- the blob collector racing a backup, and what restore refuses ------------------------------


def _small_store(data_dir: Path, **settings: object) -> tuple[Store, trees.Account, int, list[int]]:
    """A store with a seeded tree of 12 nodes and a file for each of its blobs; returns the
    store (open), its account, the space and the ids of its files whose blob no other shares."""
    store = Store(Settings(data_dir=data_dir, **settings))
    acct = store.run(trees.new_account(store.services))
    space = store.run(trees.new_space(store.services, acct, "space"))
    store.run(trees.seed_tree(store.services, acct, space, "tree", 12, fanout=4))
    _write_blobs(data_dir)
    with sqlite3.connect(data_dir / "dingstore.db") as conn:
        alone = conn.execute(
            "SELECT d.id FROM dentries d JOIN blobs b ON b.id = d.blob_id "
            "WHERE d.type = 'FILE' AND b.refcount = 1 AND d.version = 1"
        ).fetchall()
    return store, acct, space, [int(i) for (i,) in alone]


def _blob_of(data_dir: Path, dentry_id: int) -> int:
    with sqlite3.connect(data_dir / "dingstore.db") as conn:
        (blob,) = conn.execute("SELECT blob_id FROM dentries WHERE id = ?", (dentry_id,)).fetchone()
    return int(blob)


def test_a_blob_collected_during_the_backup_makes_it_start_over(tmp_path: Path) -> None:
    """With no grace (DINGSTORE_BLOB_GRACE=0), a file deleted for good after the snapshot is
    collected before the backup reaches its bytes: the backup takes a new snapshot."""
    data = tmp_path / "data"
    store, acct, space, files = _small_store(data, blob_grace=0)
    try:
        victim = files[0]
        blob = _blob_of(data, victim)
        raced: list[dict[str, int]] = []

        def delete_and_collect() -> None:
            if raced:
                return
            store.run(
                store.services.dentries.delete(
                    acct.actor, str(space), str(victim), to_recycle_bin=False
                )
            )
            time.sleep(0.002)  # released_at < now: collectable with no grace
            raced.append(store.run(store.services.files.collect()))
            assert not (data / "blobs" / "blobs" / str(blob)).exists()

        done = backups.backup(
            Settings(data_dir=data), tmp_path / "backup", after_snapshot=delete_and_collect
        )
    finally:
        store.close()
    assert raced and raced[0]["blobs"] >= 1
    assert done.attempts == 2
    files_in = json.loads((tmp_path / "backup" / backups.MANIFEST).read_text())["files"]
    assert f"blobs/blobs/{blob}" not in files_in
    assert blob not in _referenced(tmp_path / "backup" / backups.DATABASE)
    backups.restore(tmp_path / "backup", tmp_path / "new")
    restored = Store(Settings(data_dir=tmp_path / "new"))
    try:
        assert restored.run(trees.problems(restored.db)) == []
    finally:
        restored.close()


def test_a_referenced_blob_without_its_file_fails_the_backup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, _, _, files = _small_store(data)
    try:
        blob = _blob_of(data, files[0])
    finally:
        store.close()
    (data / "blobs" / "blobs" / str(blob)).unlink()
    found = command("admin", "backup", "--to", str(tmp_path / "backup"), "--data-dir", str(data))
    assert found.returncode == 1
    assert "the store is damaged" in found.stderr and str(blob) in found.stderr
    assert not (tmp_path / "backup" / backups.MANIFEST).exists()


def test_restore_checks_the_backup_and_its_target(tmp_path: Path) -> None:
    data, saved = tmp_path / "data", tmp_path / "backup"
    _small_store(data)[0].close()
    assert command("admin", "backup", "--to", str(saved), "--data-dir", str(data)).returncode == 0
    # A backup goes into an empty directory only.
    again = command("admin", "backup", "--to", str(saved), "--data-dir", str(data))
    assert again.returncode == 1 and "not an empty directory" in again.stderr

    def restore(into: Path, source: Path = saved) -> tuple[int, str]:
        done = command("admin", "restore", "--from", str(source), "--data-dir", str(into))
        return done.returncode, done.stderr

    # A target that is not empty is refused, and left alone.
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep me")
    code, err = restore(taken)
    assert code == 1 and "not an empty directory" in err
    assert [p.name for p in taken.iterdir()] == ["mine.txt"]

    # A damaged file (one byte changed, same size) is found, and nothing is left of the restore.
    manifest = json.loads((saved / backups.MANIFEST).read_text())
    blob_name = next(n for n in manifest["files"] if n.startswith("blobs/blobs/"))
    damaged = bytearray((saved / blob_name).read_bytes())
    damaged[0] ^= 1
    (saved / blob_name).write_bytes(bytes(damaged))
    code, err = restore(tmp_path / "new")
    assert code == 1 and "does not match the manifest" in err and blob_name in err
    assert not (tmp_path / "new").exists()
    damaged[0] ^= 1
    (saved / blob_name).write_bytes(bytes(damaged))

    # A backup of a later release's schema is refused; so is a directory without a manifest.
    later = tmp_path / "later"
    later.mkdir()
    (later / backups.MANIFEST).write_text(json.dumps({**manifest, "revision": "9999"}))
    code, err = restore(tmp_path / "new", later)
    assert code == 1 and "revision 9999" in err
    code, err = restore(tmp_path / "new", tmp_path / "taken")
    assert code == 1 and "no finished backup" in err

    # The backup whole again: restored, readable by its owner only, as a server's store is.
    assert restore(tmp_path / "new") == (0, "")
    for path in [saved, tmp_path / "new", *saved.rglob("*"), *(tmp_path / "new").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "blobs", "dingstore.db", "secret.key",
    ]  # fmt: skip


def test_backup_refuses_the_scale_out_shape(tmp_path: Path) -> None:
    """PostgreSQL and buckets have their own tools (docs/deploy.md); nothing is written."""
    for flags in (
        ["--database-url", "postgresql://postgres@127.0.0.1/nothing"],
        ["--data-dir", str(tmp_path)],
    ):
        env = {"DINGSTORE_BLOB_URL": "s3://bucket"} if flags[0] == "--data-dir" else {}
        args = ["admin", "backup", "--to", str(tmp_path / "backup"), *flags]
        found = CliRunner(env=env).invoke(main.app, args)
        assert found.exit_code == 1 and "docs/deploy.md" in found.stderr
        assert not (tmp_path / "backup").exists()


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("../outside", "outside the backup"),
        ("/etc/passwd", "outside the backup"),
        ("blobs/blobs/7", "the backup lacks blobs/blobs/7"),
    ],
)
def test_restore_refuses_a_manifest_naming_what_the_backup_does_not_hold(
    tmp_path: Path, name: str, said: str
) -> None:
    """A manifest naming a path outside the backup, or a file the backup lacks, is refused and
    nothing of the restore is left (the target absent as it was)."""
    saved, into = tmp_path / "backup", tmp_path / "new"
    saved.mkdir()
    (saved / backups.DATABASE).write_bytes(b"x")
    files = {
        backups.DATABASE: {"size": 1, "sha256": hashlib.sha256(b"x").hexdigest()},
        name: {"size": 0, "sha256": hashlib.sha256(b"").hexdigest()},
    }
    manifest = {"format": backups.FORMAT, "revision": database.head(), "files": files}
    (saved / backups.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(backups.BackupError, match=said):
        backups.restore(saved, into)
    assert not into.exists()
