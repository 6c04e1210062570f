"""Injected faults (``POST /_dingstore/faults``): the official SDK raises them as it raises
DingTalk's own errors, with the code, status and message chosen; a count, a probability with a
seed, a delay, and an org scope say which calls they hit."""

from __future__ import annotations

import random
import time

import pytest

from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage
from tests.testmode.conftest import Controls

pytestmark = pytest.mark.shapes("embedded")


def test_the_sdk_raises_the_injected_error_once(
    st: Storage, controls: Controls, tenant: Tenant
) -> None:
    space = st.new_space()
    controls.inject(
        "AddFolder", "quotaUsedExceeded", status=403, message="no room", corpId=tenant.corp_id
    )
    err = sdk_error(lambda: st.add_folder(space.id, "a"))
    assert (err.statusCode, err.code) == (403, "quotaUsedExceeded")
    body = err.data
    # DingTalk's body (the SDK adds the status it got)
    assert isinstance(body, dict) and set(body) == {"code", "message", "requestid", "statusCode"}
    assert (body["code"], body["message"]) == ("quotaUsedExceeded", "no room")
    assert body["requestid"] and body["requestid"] in err.message
    # times=1 (the default): spent, so the next call runs, and nothing was made by the first
    assert st.add_folder(space.id, "a").name == "a"
    assert [d.name for d in st.list_dentries(space.id)] == ["a"]


def test_a_count_and_always(st: Storage, controls: Controls, tenant: Tenant) -> None:
    space = st.new_space()
    controls.inject("GetSpace", "systemError", status=500, times=2, corpId=tenant.corp_id)
    for _ in range(2):
        assert sdk_error(lambda: st.get_space(space.id)).statusCode == 500
    assert st.get_space(space.id).id == space.id

    fault = controls.inject("GetSpace", "busy", status=503, times=None, corpId=tenant.corp_id)
    listed = controls.ok("GET", "faults", params={"corpId": tenant.corp_id})["faults"]
    assert [(f["faultId"], f["times"], f["operation"]) for f in listed] == [
        (fault, None, "GetSpace")
    ]
    for _ in range(3):
        assert sdk_error(lambda: st.get_space(space.id)).code == "busy"
    controls.ok("DELETE", f"faults/{fault}")
    assert st.get_space(space.id).id == space.id
    gone = controls.call("DELETE", f"faults/{fault}")
    assert (gone.status_code, gone.json()["code"]) == (404, "faultNotExist")


def test_a_fault_for_one_org_leaves_the_others_alone(
    server: LiveServer, sdk: Sdk, st: Storage, controls: Controls, tenant: Tenant
) -> None:
    other = Storage.of(server, sdk, new_tenant(server, sdk))
    mine, theirs = st.new_space(), other.new_space()
    controls.inject("AddFolder", "permissionDenied", status=403, times=None, corpId=tenant.corp_id)
    assert other.add_folder(theirs.id, "fine").name == "fine"
    assert sdk_error(lambda: st.add_folder(mine.id, "no")).code == "permissionDenied"
    controls.ok("DELETE", "faults", params={"corpId": tenant.corp_id})
    assert st.add_folder(mine.id, "yes").name == "yes"


def test_a_probability_with_a_seed_hits_the_same_calls_every_run(
    st: Storage, controls: Controls, tenant: Tenant
) -> None:
    space = st.new_space()

    def run() -> list[bool]:
        controls.inject(
            "GetSpace", "flaky", times=None, probability=0.5, seed=42, corpId=tenant.corp_id
        )
        hits = []
        for _ in range(12):
            try:
                st.get_space(space.id)
                hits.append(False)
            except Exception as exc:  # the SDK's TeaException
                assert getattr(exc, "code", None) == "flaky"
                hits.append(True)
        controls.ok("DELETE", "faults", params={"corpId": tenant.corp_id})
        return hits

    first = run()
    draws = random.Random(42)
    assert first == [draws.random() < 0.5 for _ in range(12)]
    assert 0 < sum(first) < 12
    assert run() == first


def test_after_lets_the_first_calls_through(
    st: Storage, controls: Controls, tenant: Tenant
) -> None:
    space = st.new_space()
    fault = controls.inject(
        "GetSpace", "quotaUsedExceeded", status=403, after=2, corpId=tenant.corp_id
    )
    listed = controls.ok("GET", "faults", params={"corpId": tenant.corp_id})["faults"]
    assert [(f["faultId"], f["after"], f["times"], f["fired"]) for f in listed] == [
        (fault, 2, 1, 0)
    ]
    for _ in range(2):  # untouched
        assert st.get_space(space.id).id == space.id
    err = sdk_error(lambda: st.get_space(space.id))  # the third
    assert (err.statusCode, err.code) == (403, "quotaUsedExceeded")
    assert st.get_space(space.id).id == space.id  # times=1: spent with the third, gone
    assert controls.ok("GET", "faults", params={"corpId": tenant.corp_id}) == {"faults": []}

    # another operation's calls do not count: only the fault's own
    controls.inject("GetSpace", "busy", status=503, after=1, corpId=tenant.corp_id)
    st.add_folder(space.id, "not counted")
    assert st.get_space(space.id).id == space.id
    assert sdk_error(lambda: st.get_space(space.id)).code == "busy"

    # a call another fault hits counts too: the older fault lets it through, the newer fires
    controls.inject("GetSpace", "older", after=1, corpId=tenant.corp_id)
    controls.inject("GetSpace", "newer", corpId=tenant.corp_id)
    assert sdk_error(lambda: st.get_space(space.id)).code == "newer"
    assert sdk_error(lambda: st.get_space(space.id)).code == "older"
    assert st.get_space(space.id).id == space.id


def test_after_with_a_probability_draws_only_past_the_calls_let_through(
    st: Storage, controls: Controls, tenant: Tenant
) -> None:
    space = st.new_space()
    controls.inject(
        "GetSpace", "flaky", times=None, after=3, probability=0.5, seed=7, corpId=tenant.corp_id
    )
    hits = []
    for _ in range(13):
        try:
            st.get_space(space.id)
            hits.append(False)
        except Exception as exc:  # the SDK's TeaException
            assert getattr(exc, "code", None) == "flaky"
            hits.append(True)
    draws = random.Random(7)
    assert hits == [False] * 3 + [draws.random() < 0.5 for _ in range(10)]
    assert 0 < sum(hits) < 10  # some drawn calls hit, some not


def test_a_delay_alone_slows_the_call_down(st: Storage, controls: Controls, tenant: Tenant) -> None:
    space = st.new_space()
    controls.inject("GetSpace", delayMs=150, corpId=tenant.corp_id)
    started = time.monotonic()
    assert st.get_space(space.id).id == space.id
    assert time.monotonic() - started >= 0.15
    # spent (times=1): listed no more
    assert controls.ok("GET", "faults", params={"corpId": tenant.corp_id}) == {"faults": []}


def test_faults_are_checked(controls: Controls) -> None:
    for body, code in [
        ({"operation": "AddFolder"}, "paramError"),  # neither a code nor a delay
        ({"operation": "AddFolder", "code": "x", "times": 0}, "paramError.times"),
        ({"operation": "AddFolder", "code": "x", "probability": 2}, "paramError.probability"),
        ({"operation": "AddFolder", "code": "x", "after": -1}, "paramError.after"),
        ({"operation": "AddFolder", "code": "x", "after": 1.5}, "paramError.after"),
        ({"operation": "AddFolder", "code": "x", "after": "2"}, "paramError.after"),
        ({"operation": "AddFolder", "code": "x", "after": True}, "paramError.after"),
        ({"operation": "AddFolder", "code": "x", "after": None}, "paramError.after"),
        ({"code": "x"}, "paramError.operation"),
    ]:
        response = controls.call("POST", "faults", json=body)
        assert (response.status_code, response.json()["code"]) == (400, code), body
