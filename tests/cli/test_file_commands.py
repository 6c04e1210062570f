"""``dingstore ls | mkdir | cp | mv | rm | trash | events tail | login``, run as a user runs
them against a live server: what they change (read back through the official SDK), what
``--json`` prints, and their exit statuses (0, 1 with DingTalk's code, 2, 3, 4)."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from dingstore.cli.files import credentials
from dingstore.client import Client
from tests.cli.files import Remote


def names(remote: Remote, space: str, path: str = "/") -> list[str]:
    listed = remote.run("ls", f"{space}:{path}", "--json").records()
    return sorted(r["name"] for r in listed)


def test_ls_mkdir_and_json_lines(remote: Remote) -> None:
    space = remote.new_space()
    made = remote.run("mkdir", "-p", f"{space}:/a/b/c", "--json").records()
    assert [(r["name"], r["path"], r["type"]) for r in made] == [("c", "/a/b/c", "FOLDER")]
    remote.run("mkdir", "-p", f"{space}:/a/b/c")  # -p: an existing folder is fine
    again = remote.run("mkdir", f"{space}:/a/b/c", ok=False)
    assert again.status == 1 and "dentryAlreadyExist" in again.stderr
    remote.run("mkdir", f"{space}:/a/z")
    short = remote.run("ls", f"{space}:/a")
    assert short.stdout == "b/\nz/\n"
    long = remote.run("ls", "-l", f"{space}:/a").stdout.splitlines()
    assert [line.split("\t")[0::4] for line in long] == [["d", "b"], ["d", "z"]]
    rows = remote.run("ls", "-l", f"{space}:/a", "--json").records()
    assert [(r["name"], r["path"], r["spaceId"]) for r in rows] == [
        ("b", "/a/b", space),
        ("z", "/a/z", space),
    ]
    assert names(remote, space) == ["a"]


@pytest.mark.shapes("embedded")  # the listing's SQL runs on both in tests/api/test_space_list.py
def test_spaces_and_mkspace(remote: Remote) -> None:
    made = remote.run("mkspace", "reports").stdout
    assert made.strip().isdigit() and made.endswith("\n")
    reports = made.strip()
    assert remote.st.get_space(reports).name == "reports"
    [capped] = remote.run("mkspace", "capped", "--quota", "1000", "--json").records()
    assert (capped["name"], capped["quota"], capped["ownerId"]) == (
        "capped", 1000, remote.tenant.admin_id,
    )  # fmt: skip
    remote.st.upload(reports, b"abc", "a.txt")

    lines = [line.split("\t") for line in remote.run("spaces").stdout.splitlines()]
    assert [(row[0], row[1], row[2], row[4], row[5]) for row in lines] == [
        (capped["id"], "capped", "user", "0", "1000"),
        (reports, "reports", "user", "3", "-"),
    ]
    records = remote.run("spaces", "--json").records()
    assert [(r["id"], r["name"], r["usedQuota"]) for r in records] == [
        (capped["id"], "capped", 0),
        (reports, "reports", 3),
    ]
    assert records[1] == remote.st.raw_ok("GET", f"/spaces/{reports}")["space"]

    # another user of the org sees only what they may read: nothing, then what is granted
    bob = remote.server.run(
        remote.server.services.identity.create_user(remote.tenant.corp_id, "bob")
    ).union_id
    as_bob = {**remote.env, "DINGSTORE_UNION_ID": bob}
    assert remote.run("spaces", env=as_bob).stdout == ""
    remote.st.add_permission(reports, "0", "READER", [("USER", bob)])
    assert [r["id"] for r in remote.run("spaces", "--json", env=as_bob).records()] == [reports]

    bad = remote.run("mkspace", "a\u202egnp.exe", ok=False)
    assert bad.status == 1 and "paramError.name" in bad.stderr
    negative = remote.run("mkspace", "x", "--quota", "-1", ok=False)
    assert negative.status == 2


def test_exit_statuses(remote: Remote, tmp_path: Path) -> None:
    space = remote.new_space()
    missing = remote.run("ls", f"{space}:/nothing/here", ok=False)
    assert (
        missing.status == 3 and f"no such file or folder: {space}:/nothing/here" in missing.stderr
    )
    no_space = remote.run("ls", "999999999:/", ok=False)
    assert no_space.status == 3 and "spaceNotExist" in no_space.stderr
    usage = remote.run("ls", "not-a-remote-path", ok=False)
    assert usage.status == 2 and "SPACE_ID:/path" in usage.stderr
    no_local = remote.run("put", str(tmp_path / "absent"), f"{space}:/", ok=False)
    assert no_local.status == 3
    folder_without_r = remote.run("put", str(tmp_path), f"{space}:/", ok=False)
    assert folder_without_r.status == 2 and "-r" in folder_without_r.stderr
    unset = {k: v for k, v in remote.env.items() if k != "DINGSTORE_APP_SECRET"}
    no_secret = remote.run("ls", f"{space}:/", env=unset, ok=False)
    assert no_secret.status == 2 and "DINGSTORE_APP_SECRET" in no_secret.stderr
    wrong = remote.run(
        "ls", f"{space}:/", env={**remote.env, "DINGSTORE_APP_SECRET": "x"}, ok=False
    )
    assert wrong.status == 1 and wrong.stderr.startswith("error: ") and "(HTTP 4" in wrong.stderr

    # One item of a batch fails, the other is copied: 4; both fail: 1, with the code.
    remote.run("mkdir", "-p", f"{space}:/src/a", f"{space}:/dst/a")
    remote.run("mkdir", f"{space}:/src/b")
    partial = remote.run("cp", f"{space}:/src/a", f"{space}:/src/b", f"{space}:/dst", ok=False)
    assert partial.status == 4 and "dentryAlreadyExist" in partial.stderr, partial
    assert names(remote, space, "/dst") == ["a", "b"]
    failed = remote.run("cp", f"{space}:/src/a", f"{space}:/src/b", f"{space}:/dst", ok=False)
    assert failed.status == 1 and "dentryAlreadyExist" in failed.stderr
    renamed = remote.run("cp", "--conflict", "rename", f"{space}:/src/a", f"{space}:/dst")
    assert renamed.status == 0 and names(remote, space, "/dst") == ["a", "a(1)", "b"]


def test_cp_mv_and_rename_with_json(remote: Remote) -> None:
    space, other = remote.new_space(), remote.new_space()
    remote.run("mkdir", "-p", f"{space}:/tree/x/y", f"{space}:/tree/z")
    copied = remote.run("cp", f"{space}:/tree", f"{other}:/", "--json").records()
    assert copied[-1]["summary"]["status"] == "SUCCESS"
    assert copied[-1]["summary"]["successCount"] == copied[-1]["summary"]["totalCount"] == 4
    assert copied[0]["source"] == f"{space}:/tree" and copied[0]["targetSpaceId"] == other
    assert names(remote, other, "/tree") == ["x", "z"]
    # one source to a name not there yet: copied, then given that name
    remote.run("cp", f"{space}:/tree", f"{space}:/copy")
    assert names(remote, space) == ["copy", "tree"] and names(remote, space, "/copy") == ["x", "z"]
    # mv in its folder is a rename; mv into a folder keeps the id
    before = remote.run("ls", "-l", f"{space}:/copy/x", "--json").records()
    remote.run("mv", f"{space}:/copy", f"{space}:/moved")
    remote.run("mv", f"{space}:/moved/x", f"{other}:/tree/z")
    after = remote.run("ls", "-l", f"{other}:/tree/z/x", "--json").records()
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert names(remote, space, "/moved") == ["z"]
    assert names(remote, other, "/tree/z") == ["x"]


def test_rm_goes_to_the_bin_unless_permanent_and_trash_commands(remote: Remote) -> None:
    space = remote.new_space()
    remote.run("mkdir", "-p", f"{space}:/keep/inner", f"{space}:/gone/inner", f"{space}:/doomed")
    refused = remote.run("rm", f"{space}:/keep", ok=False)
    assert refused.status == 2 and "-r" in refused.stderr
    remote.run("rm", "-r", f"{space}:/keep")
    remote.run("rm", "-r", "--permanent", f"{space}:/gone")
    remote.run("rm", "-r", f"{space}:/doomed")
    assert names(remote, space) == []
    items = remote.run("trash", "ls", "--json").records()
    assert sorted(i["originalPath"] for i in items) == ["/doomed", "/keep"]  # not /gone
    help_text = remote.run("rm", "--help").stdout
    assert "recycle bin" in help_text and "--permanent" in help_text

    restored = remote.run("trash", "restore", f"{space}:/keep", "--json").records()
    assert restored[-1]["summary"]["status"] == "SUCCESS"
    assert names(remote, space) == ["keep"] and names(remote, space, "/keep") == ["inner"]
    doomed = next(i["id"] for i in items if i["originalPath"] == "/doomed")
    remote.run("trash", "purge", doomed)
    assert remote.run("trash", "ls", "--json").records() == []
    gone = remote.run("trash", "restore", doomed, ok=False)
    assert gone.status in (1, 3) and "recycleItemNotExist" in gone.stderr

    remote.run("rm", "-r", f"{space}:/keep")
    not_confirmed = remote.run("trash", "clear", ok=False)
    assert not_confirmed.status == 2 and "--yes" in not_confirmed.stderr
    remote.run("trash", "clear", "--yes")
    assert remote.run("trash", "ls", "--json").records() == []


def test_login_saves_a_profile_only_its_owner_reads(remote: Remote, tmp_path: Path) -> None:
    space = remote.new_space()
    config = Path(remote.env["DINGSTORE_CONFIG"])
    env = remote.env
    flags = [
        "--endpoint", env["DINGSTORE_ENDPOINT"],
        "--app-key", env["DINGSTORE_APP_KEY"],
        "--union-id", env["DINGSTORE_UNION_ID"],
    ]  # fmt: skip
    only_config = {
        "DINGSTORE_CONFIG": str(config),
        "DINGSTORE_APP_SECRET": env["DINGSTORE_APP_SECRET"],
    }
    saved = remote.run("login", *flags, "--profile", "work", "--json", env=only_config).records()
    assert saved == [{"profile": "work", "path": str(config), "corpId": remote.tenant.corp_id}]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    stored = json.loads(config.read_text())["work"]
    assert (
        stored
        == credentials.Credentials(
            env["DINGSTORE_ENDPOINT"],
            env["DINGSTORE_APP_KEY"],
            env["DINGSTORE_APP_SECRET"],
            env["DINGSTORE_UNION_ID"],
        ).__dict__
    )
    # the profile alone is enough; a variable still wins over it
    profile_only = {"DINGSTORE_CONFIG": str(config)}
    remote.run("mkdir", f"{space}:/via-profile", "--profile", "work", env=profile_only)
    over = {**profile_only, "DINGSTORE_PROFILE": "work", "DINGSTORE_UNION_ID": "nobody"}
    assert remote.run("ls", f"{space}:/", env=over, ok=False).status == 1
    assert (
        remote.run("ls", f"{space}:/", "--profile", "absent", env=profile_only, ok=False).status
        == 2
    )
    # a wrong secret is refused, and nothing is saved
    bad = remote.run(
        "login", *flags, "--app-secret", "wrong", "--profile", "bad", env=profile_only, ok=False
    )
    assert bad.status == 1 and "bad" not in json.loads(config.read_text())
    assert os.stat(config).st_mode & 0o077 == 0


def test_events_tail_prints_the_apps_events(remote: Remote) -> None:
    space = remote.new_space()
    env = remote.env
    with Client(
        env["DINGSTORE_ENDPOINT"],
        env["DINGSTORE_APP_KEY"],
        env["DINGSTORE_APP_SECRET"],
        env["DINGSTORE_UNION_ID"],
    ) as c:
        c.subscribe(c.get_space(space))
    remote.run("mkdir", f"{space}:/hello")
    tail = remote.run("events", "tail", "--from-start", "--no-follow", "--json")
    events = tail.records()
    assert [(e["eventType"], e["spaceId"]) for e in events] == [("storage_dentry_create", space)]
    assert events[0]["cursor"]
    plain = remote.run("events", "tail", "--from-start", "--no-follow").stdout
    assert "create" in plain and space in plain
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3}  ", plain), plain  # the event's time, not "?"
