"""``dingstore put`` and ``get``: a 1,000-file directory round trip compared by sha256, resuming
by size and by MD5 (``--checksum``, whose MD5 is the store's ETag: local files or S3), one file
under a new name, and what they print."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests import backends
from tests.cli.files import Remote, make_tree, run_process, tree_digest

# The 1,000 files on the embedded shape; on the scale-out shape, whose transfers go to
# S3 (moto) through the same commands, 200 show the same and cost a fifth of the suite's time.
FILES = {backends.EMBEDDED: 1000, backends.SCALE_OUT: 200}


@pytest.mark.heavy(20)
def test_a_thousand_files_go_up_and_come_back_byte_for_byte(
    remote: Remote, tmp_path: Path, shape: str
) -> None:
    files = FILES[shape]
    space = remote.new_space()
    source, back = tmp_path / "source", tmp_path / "back"
    make_tree(source, files, 200, per_folder=250)

    up = run_process(
        remote, "put", "-r", "--transfers", "16", str(source), f"{space}:/up", "--json"
    )
    records = up.records()
    assert records[-1]["summary"]["uploaded"] == files
    assert records[-1]["summary"]["failed"] == 0
    assert sorted(r["action"] for r in records[:-1]) == ["uploaded"] * files
    down = run_process(
        remote, "get", "-r", "--transfers", "16", f"{space}:/up", str(back), "--json"
    )
    assert down.records()[-1]["summary"]["downloaded"] == files
    assert tree_digest(back) == tree_digest(source)
    assert len(tree_digest(back)) == files
    assert not list(back.rglob("*.part"))

    # Run again: nothing to send either way (the same names and sizes are there).
    again = remote.run("put", "-r", "--transfers", "16", str(source), f"{space}:/up", "--json")
    assert again.records()[-1]["summary"] | {"seconds": 0} == {
        "uploaded": 0,
        "skipped": files,
        "failed": 0,
        "bytes": 0,
        "seconds": 0,
        "filesPerSecond": 0.0,
        "bytesPerSecond": 0,
    }


def test_put_resumes_by_size_and_with_checksum_by_md5(remote: Remote, tmp_path: Path) -> None:
    space = remote.new_space()
    source = tmp_path / "source"
    make_tree(source, 6, 1000, per_folder=4)
    remote.run("put", "-r", str(source), f"{space}:/docs")
    changed = source / "d0" / "f1.bin"
    changed.write_bytes(b"x" * 1000)  # same size, other bytes
    (source / "d1" / "new.txt").write_bytes(b"a new file")

    by_size = remote.run("put", "-r", str(source), f"{space}:/docs", "--json").records()
    assert {r["local"]: r["action"] for r in by_size[:-1] if r["action"] == "uploaded"} == {
        str(source / "d1" / "new.txt"): "uploaded"
    }
    by_md5 = remote.run("put", "-r", "--checksum", str(source), f"{space}:/docs", "--json")
    sent = [r for r in by_md5.records()[:-1] if r["action"] == "uploaded"]
    assert [(r["local"], r["version"]) for r in sent] == [(str(changed), 2)]  # a new version
    back = tmp_path / "back"
    remote.run("get", "-r", "--checksum", f"{space}:/docs", str(back))
    assert tree_digest(back) == tree_digest(source)
    # get --checksum: a local file with the size but not the bytes is fetched again
    (back / "d0" / "f1.bin").write_bytes(b"y" * 1000)
    fixed = remote.run("get", "-r", "--checksum", f"{space}:/docs", str(back), "--json")
    fetched = [r["local"] for r in fixed.records()[:-1] if r["action"] == "downloaded"]
    assert fetched == [str(back / "d0" / "f1.bin")]
    assert tree_digest(back) == tree_digest(source)


def test_one_file_up_under_a_new_name_and_down_into_a_directory(
    remote: Remote, tmp_path: Path
) -> None:
    space = remote.new_space()
    local = tmp_path / "report.txt"
    local.write_bytes(b"quarterly numbers\n")
    remote.run("mkdir", f"{space}:/docs")
    remote.run("put", str(local), f"{space}:/docs/renamed.txt")
    listing = remote.run("ls", "-l", f"{space}:/docs", "--json").records()
    assert [(r["name"], r["size"]) for r in listing] == [("renamed.txt", 18)]
    into = tmp_path / "into"
    into.mkdir()
    plain = remote.run("get", f"{space}:/docs/renamed.txt", str(into))
    assert (into / "renamed.txt").read_bytes() == local.read_bytes()
    # A pipe gets plain lines and no progress bar.
    assert plain.stdout.startswith("downloaded 1 file ")
    assert "━" not in plain.stdout + plain.stderr and "\r" not in plain.stdout
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    assert tree_digest(into) == {"renamed.txt": digest}
