"""The pytest plugin's objects, used in process: ``DingstoreServer`` (the ``dingstore_server``
fixture) and ``Dingstore`` (the ``dingstore`` fixture), through the official SDK.
test_example.py runs the plugin itself, as pytest loads it, on the docs' example suite."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m
from alibabacloud_dingtalk.storage_1_0.client import Client as StorageClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from dingstore.testing import Dingstore, DingstoreServer, start_server
from tests.conftest import sdk_error
from tests.live import Sdk

pytestmark = pytest.mark.shapes("embedded")


@pytest.fixture(scope="module")
def server() -> Iterator[DingstoreServer]:
    with start_server() as started:
        yield started


@pytest.fixture
def org(server: DingstoreServer) -> Iterator[Dingstore]:
    made = server.new_org()
    yield made
    made.close()


def add_space(org: Dingstore, name: str, token: str | None = None) -> str:
    storage = StorageClient(Config(protocol="http", endpoint=org.endpoint))
    request = m.AddSpaceRequest(
        union_id=org.union_id, option=m.AddSpaceRequestOption(name=name, scene="t", scene_id=name)
    )
    headers = m.AddSpaceHeaders(x_acs_dingtalk_access_token=token or org.access_token())
    body = storage.add_space_with_options(request, headers, RuntimeOptions(autoretry=False))
    return str(body.body.space.id)


def test_a_new_org_works_through_the_sdk(server: DingstoreServer, org: Dingstore) -> None:
    assert org.endpoint == server.endpoint == f"127.0.0.1:{server.settings.port}"
    # the secret is the app's: the SDK's own token call accepts it
    assert Sdk(org.endpoint).access_token(org.app_key, org.app_secret).access_token
    assert org.access_token() == org.access_token()  # one token, kept
    assert add_space(org, "first")
    other = server.new_org()
    assert other.corp_id != org.corp_id and other.app_key != org.app_key


def test_users_and_apps_with_their_scopes(org: Dingstore) -> None:
    bob = org.add_user("bob")
    assert bob and bob != org.union_id
    reader = org.add_app("reader", scopes=["Storage.Space.Read"])
    token = org.access_token(reader.app_key, reader.app_secret)
    err = sdk_error(lambda: add_space(org, "no", token))
    assert err.code == "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    fixed = org.add_app("fixed", app_key="dingfixedkey0000001", app_secret="fixed-secret-123")
    assert Sdk(org.endpoint).access_token(fixed.app_key, "fixed-secret-123").access_token


def test_faults_are_the_orgs_own_and_end_with_it(server: DingstoreServer, org: Dingstore) -> None:
    other = server.new_org()
    org.inject_fault("AddSpace", "quotaUsedExceeded", status=403, times=2)
    assert add_space(other, "unharmed")  # another org's calls are not touched
    for _ in range(2):
        err = sdk_error(lambda: add_space(org, "x"))
        assert (err.code, err.statusCode) == ("quotaUsedExceeded", 403)
    assert add_space(org, "x")  # the third call: the fault is spent
    org.inject_fault("AddSpace", "systemError", status=500, times=None)
    org.clear_faults()
    assert add_space(org, "y")
    org.inject_fault("AddSpace", "systemError", status=500, times=None)
    org.close()  # what the fixture does after the test
    assert add_space(org, "z")


def test_a_fault_after_the_first_calls(org: Dingstore) -> None:
    org.inject_fault("AddSpace", "quotaUsedExceeded", status=403, after=2)
    assert add_space(org, "one") and add_space(org, "two")  # let through
    err = sdk_error(lambda: add_space(org, "three"))
    assert (err.code, err.statusCode) == ("quotaUsedExceeded", 403)
    assert add_space(org, "four")  # times=1: spent
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match="after"):
            org.inject_fault("AddSpace", "x", after=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        org.inject_fault("AddSpace", "x", times=0)
    assert add_space(org, "five")  # none of them was added


def test_reset_empties_the_orgs_storage_and_keeps_its_credentials(org: Dingstore) -> None:
    space = add_space(org, "kept?")
    org.reset()
    storage = StorageClient(Config(protocol="http", endpoint=org.endpoint))
    err = sdk_error(
        lambda: storage.get_space_with_options(
            space,
            m.GetSpaceRequest(union_id=org.union_id),
            m.GetSpaceHeaders(x_acs_dingtalk_access_token=org.access_token()),
            RuntimeOptions(autoretry=False),
        )
    )
    assert err.code == "spaceNotExist"
    assert add_space(org, "again")  # the same token, the same admin


def test_events_and_waiting_for_their_delivery(org: Dingstore) -> None:
    assert org.events() == [] and org.wait_events_delivered(timeout=0.05)
    storage = StorageClient(Config(protocol="http", endpoint=org.endpoint))
    storage.subscribe_event_with_options(
        m.SubscribeEventRequest(scope="ORG", scope_id=org.corp_id, union_id=org.union_id),
        m.SubscribeEventHeaders(x_acs_dingtalk_access_token=org.access_token()),
        RuntimeOptions(autoretry=False),
    )
    space = add_space(org, "watched")
    storage.add_folder_with_options(
        space,
        "0",
        m.AddFolderRequest(union_id=org.union_id, name="new"),
        m.AddFolderHeaders(x_acs_dingtalk_access_token=org.access_token()),
        RuntimeOptions(autoretry=False),
    )
    (event,) = org.events()
    assert (event["eventType"], event["name"], event["status"]) == (
        "storage_dentry_create",
        "new",
        "PENDING",
    )
    # no Stream client, no push URL: the event waits, and so does whoever waits for it
    with pytest.raises(TimeoutError, match=r"1 events of \w+ still pending after 0\.05 s"):
        org.wait_events_delivered(timeout=0.05)


def test_an_org_per_test_costs_milliseconds(server: DingstoreServer) -> None:
    costs = []
    for _ in range(20):
        began = time.perf_counter()
        server.new_org().close()
        costs.append(time.perf_counter() - began)
    # bench/fixture.py measures it (a few ms); a loaded CI machine gets a wide margin
    assert statistics.median(costs) < 0.1


def test_loading_the_plugin_imports_no_server() -> None:
    code = (
        "import sys, dingstore.testing.plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith(('dingstore.', 'sqlalchemy', "
        "'fastapi', 'uvicorn')) and m not in ('dingstore.testing', 'dingstore.testing.plugin')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
