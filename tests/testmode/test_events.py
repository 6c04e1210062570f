"""Events (``/_dingstore/events``): what was written for an org's apps, in order, with each
delivery's state; ``wait-delivered`` returns once none is pending, or answers 408."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant
from tests.events import receiver as rx
from tests.live import LiveServer
from tests.storage import Storage
from tests.testmode.conftest import Controls

pytestmark = pytest.mark.shapes("embedded")


def test_events_in_order_then_delivered(
    server: LiveServer, st: Storage, controls: Controls, tenant: Tenant
) -> None:
    corp = tenant.corp_id
    assert st.subscribe_event("ORG", corp).success is True
    space = st.new_space()
    a = st.add_folder(space.id, "a")
    st.rename(space.id, a.id, "b")
    c = st.add_folder(space.id, "c")

    events = controls.ok("GET", "events", params={"corpId": corp})["events"]
    assert [(e["eventType"], e["action"], e["dentryId"], e["name"]) for e in events] == [
        ("storage_dentry_create", "add", a.id, "a"),
        ("storage_dentry_update", "rename", a.id, "b"),
        ("storage_dentry_create", "add", c.id, "c"),
    ]
    assert {(e["status"], e["attempts"], e["deliveredAt"]) for e in events} == {
        ("PENDING", 0, None)
    }
    after = controls.ok("GET", "events", params={"corpId": corp, "after": events[0]["id"]})
    assert [e["id"] for e in after["events"]] == [e["id"] for e in events[1:]]

    # no Stream connection, no callback: nothing is delivered
    late = controls.call("POST", "events/wait-delivered", json={"corpId": corp, "timeout": 0.05})
    assert (late.status_code, late.json()["code"]) == (408, "waitTimeout")

    with rx.receiving(tenant) as receiver:
        app_key = tenant.boot.credentials.app.app_key
        assert app_key is not None
        server.run(
            server.services.callbacks.set_callback(
                app_key, url=receiver.url, token=receiver.token, aes_key=receiver.aes_key
            )
        )
        done = controls.ok("POST", "events/wait-delivered", json={"corpId": corp, "timeout": 10})
        assert done == {"delivered": True}
        assert sorted(m["dentryId"] for m in receiver.events()) == sorted([a.id, a.id, c.id])
    events = controls.ok("GET", "events", params={"corpId": corp})["events"]
    assert {(e["status"], e["attempts"]) for e in events} == {("DELIVERED", 1)}
    assert all(e["deliveredAt"] for e in events)


def test_an_org_without_events_is_delivered_at_once(controls: Controls, tenant: Tenant) -> None:
    body = {"corpId": tenant.corp_id, "timeout": 0}
    assert controls.ok("POST", "events/wait-delivered", json=body) == {"delivered": True}
    assert controls.ok("GET", "events", params={"corpId": tenant.corp_id}) == {"events": []}


def test_events_wait_and_snapshots_check_their_arguments(controls: Controls) -> None:
    for method, path, kwargs, code in [
        ("GET", "events", {"params": {}}, "paramError.corpId"),
        ("GET", "events", {"params": {"corpId": "c", "limit": 0}}, "paramError.limit"),
        ("GET", "events", {"params": {"corpId": "c", "after": -1}}, "paramError.after"),
        ("POST", "events/wait-delivered", {"json": {"timeout": 1}}, "paramError.corpId"),
        ("POST", "events/wait-delivered", {"json": {"corpId": "c", "timeout": -1}},
         "paramError.timeout"),
        ("POST", "snapshots", {"json": {}}, "paramError.name"),
        ("POST", "snapshots", {"json": {"name": ""}}, "paramError.name"),
        ("POST", "snapshots", {"json": {"name": "x" * 129}}, "paramError.name"),
    ]:  # fmt: skip
        response = controls.call(method, path, **kwargs)
        assert (response.status_code, response.json()["code"]) == (400, code), (path, kwargs)
