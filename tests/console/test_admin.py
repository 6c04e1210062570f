"""The admin pages over HTTP: only the org's admins, only their org's apps and users; an app's
secret is shown once and works with the SDK; a new secret, a disabled app and new scopes take
effect on the API at once."""

from __future__ import annotations

import re

import httpx
import pytest
from Tea.exceptions import TeaException

from tests.conftest import Tenant, new_tenant
from tests.console.conftest import csrf_of, sign_in
from tests.live import LiveServer, Sdk

pytestmark = pytest.mark.shapes("embedded")


def _shown(html: str, element: str) -> str:
    found = re.search(rf'id="{element}">([^<]+)<', html)
    assert found, f"no {element} on the page"
    return found.group(1)


def test_apps_are_made_and_managed_by_org_admins(
    server: LiveServer, sdk: Sdk, tenant: Tenant, web: httpx.Client
) -> None:
    sign_in(web, server, tenant.admin_id)
    csrf = csrf_of(web.get("/console/admin").text)
    made = web.post(
        "/console/admin/apps",
        data={"csrf": csrf, "name": "sync", "scope": ["Storage.File.Read", "Storage.Space.Read"]},
    )
    assert made.status_code == 200 and "shown this once" in made.text
    key, secret = _shown(made.text, "shown-app-key"), _shown(made.text, "shown-secret")
    assert sdk.access_token(key, secret).access_token

    listed = web.get("/console/admin").text
    assert "sync" in listed and secret not in listed
    app_id = re.search(r'href="/console/admin/apps/([^"]+)">sync<', listed)
    assert app_id is not None
    page = web.get(f"/console/admin/apps/{app_id.group(1)}")
    assert page.status_code == 200 and secret not in page.text
    assert 'value="Storage.File.Read" id="scope-' in page.text

    rotated = web.post(
        f"/console/admin/apps/{app_id.group(1)}", data={"csrf": csrf, "action": "rotate"}
    )
    fresh = _shown(rotated.text, "shown-secret")
    assert fresh != secret
    with pytest.raises(TeaException):
        sdk.access_token(key, secret)
    assert sdk.access_token(key, fresh).access_token

    off = web.post(
        f"/console/admin/apps/{app_id.group(1)}", data={"csrf": csrf, "action": "disable"}
    )
    assert off.status_code == 303
    with pytest.raises(TeaException):
        sdk.access_token(key, fresh)
    assert "disabled" in web.get(f"/console/admin/apps/{app_id.group(1)}").text

    # no CSRF token, nothing changes
    refused = web.post(f"/console/admin/apps/{app_id.group(1)}", data={"action": "enable"})
    assert refused.status_code == 403


def test_only_admins_of_the_org_reach_the_admin_pages(
    server: LiveServer, sdk: Sdk, tenant: Tenant, web: httpx.Client
) -> None:
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    other = new_tenant(server, sdk)
    other_app = server.run(server.services.identity.list_apps(other.corp_id))[0]

    sign_in(web, server, bob.union_id)
    assert web.get("/console/admin").status_code == 403
    csrf = csrf_of(web.get("/console/spaces").text)
    assert web.post("/console/admin/apps", data={"csrf": csrf, "name": "x"}).status_code == 403
    assert "Admin</a>" not in web.get("/console/spaces").text

    with httpx.Client(base_url=server.url) as admin:
        sign_in(admin, server, tenant.admin_id)
        assert admin.get(f"/console/admin/apps/{other_app.app_id}").status_code == 404
        csrf = csrf_of(admin.get("/console/admin").text)
        gone = admin.post(
            f"/console/admin/apps/{other_app.app_id}", data={"csrf": csrf, "action": "disable"}
        )
        assert gone.status_code == 404
        assert not server.run(server.services.identity.get_app(other_app.app_id)).disabled


def test_users_groups_and_their_sign_in_links(
    server: LiveServer, tenant: Tenant, web: httpx.Client
) -> None:
    sign_in(web, server, tenant.admin_id)
    csrf = csrf_of(web.get("/console/admin").text)
    made = web.post("/console/admin/users", data={"csrf": csrf, "name": "carol"})
    assert made.status_code == 303
    page = web.get("/console/admin").text
    carol = re.search(r"<td>carol</td><td><code>([^<]+)</code>", page)
    assert carol is not None
    union_id = carol.group(1)

    joined = web.post(
        "/console/admin/groups",
        data={"csrf": csrf, "user": union_id, "kind": "DEPT", "group": "42", "action": "add"},
    )
    assert joined.status_code == 303
    assert f"<td>DEPT</td><td>42</td><td><code>{union_id}</code>" in web.get("/console/admin").text

    shown = web.post(f"/console/admin/users/{union_id}/link", data={"csrf": csrf})
    link = _shown(shown.text, "shown-link")
    with httpx.Client(base_url=server.url) as carols:
        token = link.rsplit("/", 1)[1]
        assert carols.post("/console/signin", data={"token": token}).status_code == 303
        assert "carol" in carols.get("/console/spaces").text
