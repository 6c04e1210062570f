"""The admin CLI, run as users run it, against the store a live server is using."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from dingstore.settings import Settings
from tests.conftest import Tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage


def admin(store: Settings | Path, *args: str, ok: bool = True) -> dict[str, Any]:
    """Run ``dingstore admin ARGS --json`` on a server's store (or a bare data dir); stdout
    must be exactly one JSON object."""
    where = ["--data-dir", str(store)]
    if isinstance(store, Settings):
        where = ["--data-dir", str(store.data_dir), "--database-url", str(store.database_url)]
    result = subprocess.run(
        [sys.executable, "-m", "dingstore", "admin", *args, *where, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
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
    failed = admin(tmp_path, "user", "create", "--corp-id", "dingnope", "--name", "X", ok=False)
    assert "orgNotExist" in failed["stderr"] and "Traceback" not in failed["stderr"]
