"""The admin CLI, run as users run it, against the store a live server is using."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import dingstore as dingstore_package
from dingstore.cli import common, main
from dingstore.settings import Settings
from tests import backends
from tests.conftest import Tenant, sdk_error
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage

# The source under test, also for a command run from another directory.
SRC = str(Path(dingstore_package.__file__).parent.parent)


def dingstore(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m dingstore ARGS`` as an operator runs it, in a process of its own: no
    ``DINGSTORE_*`` settings but ``env``'s."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith("DINGSTORE_")}
    return subprocess.run(
        [sys.executable, "-m", "dingstore", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**plain, "PYTHONPATH": SRC, **(env or {})},
    )


def command(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``dingstore ARGS`` run in this process (a process each costs ~1.5 s of imports), from
    ``cwd``, with no ``DINGSTORE_*`` settings. An exception other than the command's own exit
    fails the test: run as a process it would have been a traceback."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("DINGSTORE_")}
    with contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner(env=unset).invoke(main.app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def admin(store: Settings | Path, *args: str, ok: bool = True) -> dict[str, Any]:
    """Run ``dingstore admin ARGS --json`` on a server's store (or a bare data dir); stdout
    must be exactly one JSON object."""
    where = ["--data-dir", str(store)]
    if isinstance(store, Settings):
        where = ["--data-dir", str(store.data_dir), "--database-url", str(store.database_url)]
    result = command("admin", *args, *where, "--json")
    if not ok:
        assert result.returncode != 0, result.stdout
        return {"stderr": result.stderr}
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    value = json.loads(lines[0])
    assert isinstance(value, dict)
    return value


def test_org_user_app_lifecycle_while_the_server_runs(server: LiveServer, sdk: Sdk) -> None:
    data = server.settings
    corp_id = admin(data, "org", "create", "--name", "Acme")["corpId"]
    assert corp_id.startswith("ding")
    user = admin(data, "user", "create", "--corp-id", corp_id, "--name", "Alice", "--admin")
    assert set(user) == {"unionId", "userId"} and user["userId"].isdigit()
    app = admin(data, "app", "create", "--corp-id", corp_id, "--name", "Sync")
    assert set(app) == {"appKey", "appSecret", "agentId"}

    token = sdk.access_token(app["appKey"], app["appSecret"]).access_token
    assert sdk_error(lambda: sdk.get_task(token, "1", user["unionId"])).code == "taskNotExist"

    users = admin(data, "user", "list", "--corp-id", corp_id)["users"]
    assert [u["unionId"] for u in users] == [user["unionId"]] and users[0]["admin"] is True
    apps = admin(data, "app", "list", "--corp-id", corp_id)["apps"]
    assert [a["appKey"] for a in apps] == [app["appKey"]]
    assert "Storage.Task.Read" in apps[0]["scopes"] and apps[0]["disabled"] is False

    rotated = admin(data, "app", "rotate-secret", "--app-key", app["appKey"])
    assert rotated["appSecret"] != app["appSecret"]
    err = sdk_error(lambda: sdk.access_token(app["appKey"], app["appSecret"]))
    assert err.code == "invalidClientIdOrSecret"
    assert sdk.access_token(app["appKey"], rotated["appSecret"]).access_token

    assert admin(data, "app", "disable", "--app-key", app["appKey"])["disabled"] is True
    err = sdk_error(lambda: sdk.access_token(app["appKey"], rotated["appSecret"]))
    assert err.code == "invalidClientIdOrSecret"


def test_app_with_chosen_scopes_and_unknown_scopes(server: LiveServer, sdk: Sdk) -> None:
    data = server.settings
    corp_id = admin(data, "org", "create", "--name", "Acme")["corpId"]
    user = admin(data, "user", "create", "--corp-id", corp_id, "--name", "Bob")
    app = admin(
        data, "app", "create", "--corp-id", corp_id, "--name", "R", "--scopes", "Storage.File.Read"
    )
    token = sdk.access_token(app["appKey"], app["appSecret"]).access_token
    err = sdk_error(lambda: sdk.get_task(token, "1", user["unionId"]))
    assert err.code == "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    failed = admin(
        data,
        "app",
        "create",
        "--corp-id",
        corp_id,
        "--name",
        "X",
        "--scopes",
        "Storage.Nope",
        ok=False,
    )
    assert "unknown scopes" in failed["stderr"]


def test_suite_create_and_authorize(server: LiveServer, sdk: Sdk) -> None:
    data = server.settings
    corp_id = admin(data, "org", "create", "--name", "Acme")["corpId"]
    user = admin(data, "user", "create", "--corp-id", corp_id, "--name", "Carol", "--admin")
    suite = admin(data, "suite", "create", "--name", "Partner")
    assert set(suite) == {"suiteKey", "suiteSecret"}
    ticket = admin(
        data, "suite", "authorize", "--suite-key", suite["suiteKey"], "--corp-id", corp_id
    )["suiteTicket"]
    token = sdk.corp_access_token(
        suite["suiteKey"], suite["suiteSecret"], corp_id, ticket
    ).access_token
    assert sdk_error(lambda: sdk.get_task(token, "1", user["unionId"])).code == "taskNotExist"


def test_groups_decide_whom_a_dept_grant_reaches(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    data, corp_id = server.settings, tenant.corp_id
    st = Storage.of(server, sdk, tenant)
    bob = admin(data, "user", "create", "--corp-id", corp_id, "--name", "Bob")["unionId"]
    space = st.new_space(owner_type="USER")
    folder = st.add_folder(space.id, "docs")
    st.add_permission(space.id, folder.id, "EDITOR", [("DEPT", "42", corp_id)])
    as_bob = st.as_user(bob)
    assert as_bob.batch_query_roles(space.id, [folder.id]) == {folder.id: []}

    dept = ["--corp-id", corp_id, "--kind", "DEPT", "--group", "42", "--user", bob]
    added = admin(data, "group", "add", *dept)
    assert added == {"corpId": corp_id, "kind": "DEPT", "groupId": "42", "unionId": bob}
    assert admin(data, "group", "add", *dept) == added  # already in: no change
    tag = ["--corp-id", corp_id, "--kind", "tag", "--group", "42", "--user", bob]
    assert admin(data, "group", "add", *tag)["kind"] == "TAG"
    assert as_bob.batch_query_roles(space.id, [folder.id]) == {folder.id: ["EDITOR"]}

    listed = admin(data, "group", "list", "--corp-id", corp_id)["members"]
    assert [(m["kind"], m["groupId"], m["unionId"]) for m in listed] == [
        ("DEPT", "42", bob), ("TAG", "42", bob),
    ]  # fmt: skip
    assert admin(data, "group", "list", "--corp-id", corp_id, "--kind", "DEPT")["members"] == [
        added
    ]

    assert admin(data, "group", "remove", *dept) == {**added, "removed": True}
    assert as_bob.batch_query_roles(space.id, [folder.id]) == {folder.id: []}
    assert admin(data, "group", "remove", *dept)["removed"] is False
    assert [m["kind"] for m in admin(data, "group", "list", "--corp-id", corp_id)["members"]] == [
        "TAG"
    ]


def test_group_errors_are_clean(server: LiveServer, tenant: Tenant) -> None:
    data, corp_id = server.settings, tenant.corp_id
    bob = admin(data, "user", "create", "--corp-id", corp_id, "--name", "Bob")["unionId"]
    member = ["--group", "42", "--user", bob]
    cases = [
        ("userNotExist", ["add", "--corp-id", corp_id, "--kind", "DEPT", "--group", "1",
                          "--user", "nobody"]),
        ("orgNotExist", ["remove", "--corp-id", "dingnope", "--kind", "DEPT", *member]),
        ("orgNotExist", ["list", "--corp-id", "dingnope"]),
        ("is not one of DEPT, TAG, CONVERSATION", ["add", "--corp-id", corp_id, "--kind", "TEAM",
                                                   *member]),
        ("1 to 128 characters", ["add", "--corp-id", corp_id, "--kind", "DEPT", "--group", "",
                                 "--user", bob]),
    ]  # fmt: skip
    for expected, args in cases:
        stderr = admin(data, "group", *args, ok=False)["stderr"]
        assert expected in stderr and "Traceback" not in stderr, stderr
    assert admin(data, "group", "list", "--corp-id", corp_id)["members"] == []


def test_errors_are_clean(tmp_path: Path) -> None:
    admin(tmp_path, "init")
    failed = admin(tmp_path, "user", "create", "--corp-id", "dingnope", "--name", "X", ok=False)
    assert "orgNotExist" in failed["stderr"] and "Traceback" not in failed["stderr"]


NO_STORE_COMMANDS = [
    ["org", "list"],
    ["org", "create", "--name", "Acme"],
    ["user", "list"],
    ["user", "create", "--corp-id", "dingx", "--name", "Bob"],
    ["app", "list"],
    ["app", "create", "--corp-id", "dingx", "--name", "Sync"],
    ["app", "rotate-secret", "--app-key", "dingx"],
    ["suite", "create", "--name", "Partner"],
    ["group", "list", "--corp-id", "dingx"],
]


def test_admin_refuses_a_data_dir_without_a_store(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in NO_STORE_COMMANDS:
        # From another directory, with no --data-dir: the default ./data is not made there.
        result = command("admin", *args, cwd=elsewhere)
        assert result.returncode == 1, (args, result.stdout)
        assert f"no dingstore store in {elsewhere / 'data'}" in result.stderr, result.stderr
        assert "admin init" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""
        # An empty data dir named on purpose is refused the same way.
        result = command("admin", *args, "--data-dir", str(empty))
        assert result.returncode == 1 and f"no dingstore store in {empty}" in result.stderr
    assert list(elsewhere.iterdir()) == [] and list(empty.iterdir()) == []


def test_init_creates_a_store_once_with_working_credentials(
    tmp_path: Path, make_server: Any
) -> None:
    data = tmp_path / "store"
    made = admin(data, "init")
    assert set(made) == {"corpId", "unionId", "appKey", "appSecret", "agentId"}
    assert (data / "dingstore.db").is_file()
    again = admin(data, "init", ok=False)["stderr"]
    assert "already holds organizations" in again and "Traceback" not in again
    assert [o["corpId"] for o in admin(data, "org", "list")["orgs"]] == [made["corpId"]]

    database_url = f"sqlite+aiosqlite:///{data / 'dingstore.db'}"
    server = make_server(data_dir=data, database_url=database_url, blob_url=None)
    sdk = Sdk(server.endpoint)
    token = sdk.access_token(made["appKey"], made["appSecret"]).access_token
    assert sdk_error(lambda: sdk.get_task(token, "1", made["unionId"])).code == "taskNotExist"


@pytest.mark.shapes(backends.SCALE_OUT)
def test_admin_refuses_a_database_without_a_store(shape: str, tmp_path: Path) -> None:
    name = f"dingstore_empty_{uuid.uuid4().hex[:10]}"
    asyncio.run(backends._admin(f'CREATE DATABASE "{name}"'))
    try:
        url = f"{backends.PG}/{name}"
        result = command("admin", "org", "list", "--database-url", url, "--data-dir", str(tmp_path))
        assert result.returncode == 1, result.stdout
        assert f"the database {url} holds no dingstore store" in result.stderr, result.stderr
        made = admin(tmp_path, "init", "--database-url", url)
        assert admin(tmp_path, "org", "list", "--database-url", url)["orgs"] == [
            {"corpId": made["corpId"], "name": "Default Organization"}
        ]
    finally:
        asyncio.run(backends._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    gone = command("admin", "org", "list", "--database-url", url, "--data-dir", str(tmp_path))
    assert gone.returncode == 1 and "Traceback" not in gone.stderr, gone.stderr
    assert f"cannot open the database {url}: " in gone.stderr and "does not exist" in gone.stderr


def test_version() -> None:
    result = dingstore("--version")
    assert (
        result.returncode == 0 and result.stdout == f"dingstore {dingstore_package.__version__}\n"
    )


def test_lists_show_whole_ids_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = admin(tmp_path, "init")
    corp_id = made["corpId"]
    long_name = "a rather long application name for syncing"
    app = admin(tmp_path, "app", "create", "--corp-id", corp_id, "--name", long_name,
                "--scopes", "Storage.File.Read,Storage.File.Write")  # fmt: skip
    user = admin(tmp_path, "user", "create", "--corp-id", corp_id, "--name", "Alice Wonderland")
    conversation = "cidAbCdEfGhIjKlMnOpQrStUvWxYz0123456789=="
    admin(tmp_path, "group", "add", "--corp-id", corp_id, "--kind", "CONVERSATION",
          "--group", conversation, "--user", user["unionId"])  # fmt: skip
    suite = admin(tmp_path, "suite", "create", "--name", "Partner")
    admin(tmp_path, "suite", "authorize", "--suite-key", suite["suiteKey"], "--corp-id", corp_id)
    suite_app = next(a for a in admin(tmp_path, "app", "list")["apps"] if a["kind"] == "SUITE")

    # As a terminal of 80 columns (what COLUMNS=80 gives a process), in this process.
    monkeypatch.setattr(common.console, "width", 80)

    def shown(*args: str) -> str:
        result = command("admin", *args, "--data-dir", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert "…" not in result.stdout, result.stdout
        assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
        return result.stdout

    apps = shown("app", "list")
    for whole in (made["appKey"], app["appKey"], suite_app["appId"], corp_id):
        assert whole in apps, apps
    assert "all 14" in apps and "2 of 14" in apps and "Storage." not in apps
    of_org = shown("app", "list", "--corp-id", corp_id)
    assert app["appKey"] in of_org and "corpId" not in of_org
    users = shown("user", "list")
    for whole in (made["unionId"], user["unionId"], user["userId"], corp_id):
        assert whole in users, users
    assert corp_id in shown("org", "list")
    groups = shown("group", "list", "--corp-id", corp_id)
    assert conversation in groups and user["unionId"] in groups


def test_console_link_signs_the_user_in_once(server: LiveServer, tenant: Tenant) -> None:
    made = admin(server.settings, "console-link", "--union-id", tenant.admin_id)
    assert made["expiresIn"] == 600
    token = made["url"].rsplit("/console/signin/", 1)[1]
    signin = f"{server.url}/console/signin"
    assert http.post(signin, data={"token": token}).status_code == 303
    assert http.post(signin, data={"token": token}).status_code == 403  # used up
    refused = admin(server.settings, "console-link", "--union-id", "nobody", ok=False)
    assert "userNotExist" in refused["stderr"]
