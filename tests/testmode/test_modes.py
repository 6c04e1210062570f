"""Which servers have test mode and strict mode: ``/_dingstore/`` only with ``--test-mode``
(404 like any unknown path otherwise, never in /openapi.json), refused on a non-loopback bind
unless forced; strict mode names unknown body fields and query parameters, the default ignores
them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from dingstore import settings
from tests.cli.test_config_errors import assert_refused, run
from tests.conftest import Tenant, new_tenant
from tests.live import LiveServer, Sdk
from tests.storage import Storage

pytestmark = pytest.mark.shapes("embedded")


def test_without_test_mode_the_controls_are_not_there(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server()
    for method, path in [("POST", "reset"), ("GET", "faults"), ("POST", "tasks/pause")]:
        response = httpx.request(method, f"{server.url}/_dingstore/{path}", json={})
        assert (response.status_code, response.json()["code"]) == (404, "NotFound")


def test_the_controls_are_not_in_the_openapi_document(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/_dingstore/faults").status_code == 200  # test mode is on
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert paths and not [p for p in paths if p.startswith("/_dingstore")]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.com"])
def test_test_mode_is_refused_off_loopback(host: str, tmp_path: Path) -> None:
    status, out, err = run({}, "serve", "--test-mode", "--host", host, "--data-dir", str(tmp_path))
    assert_refused(status, out, err, "--test-mode")
    assert not (tmp_path / "dingstore.db").exists()


def test_test_mode_binds_loopback_or_where_forced() -> None:
    for host in ["127.0.0.1", "127.0.0.2", "::1", "localhost"]:
        assert settings.load(test_mode=True, host=host).test_mode
    assert settings.load(test_mode=True, test_mode_force=True, host="0.0.0.0").test_mode
    assert not settings.load(host="0.0.0.0").test_mode  # off by default
    with pytest.raises(settings.ConfigError, match="loopback"):
        settings.load(test_mode=True, host="0.0.0.0")


def raw(
    server: LiveServer, tenant: Tenant, method: str, path: str, **kwargs: object
) -> httpx.Response:
    headers = {"x-acs-dingtalk-access-token": tenant.token}
    params = {"unionId": tenant.admin_id, **kwargs.pop("params", {})}  # type: ignore[dict-item]
    return httpx.request(
        method,
        f"{server.url}{path}",
        headers=headers,
        params=params,
        **kwargs,  # type: ignore[arg-type]
    )


def test_strict_mode_names_unknown_fields_and_parameters(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(strict=True)
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    st = Storage.of(server, sdk, tenant)
    # the SDK's own calls pass: it sends only what the operations take
    space = st.new_space(quota=10_000)
    top = st.add_folder(space.id, "top", conflict_strategy="AUTO_RENAME")
    st.upload(space.id, b"x", "f.txt", top.id)
    assert [d.name for d in st.list_dentries(space.id, top.id)] == ["f.txt"]
    assert st.copy(space.id, top.id, space.id, conflict_strategy="AUTO_RENAME").task_id

    folders = f"/v1.0/storage/spaces/{space.id}/dentries/0/folders"
    typo = raw(server, tenant, "POST", folders, json={"name": "n", "nmae": "x", "option": {
        "conflictStrategy": "AUTO_RENAME", "conflictStrategie": "x"}})  # fmt: skip
    assert typo.status_code == 400
    assert typo.json()["code"] == "paramError"
    assert "nmae" in typo.json()["message"]
    assert "option.conflictStrategie" in typo.json()["message"]

    listing = f"/v1.0/storage/spaces/{space.id}/dentries"
    query = raw(server, tenant, "GET", listing, params={"parentId": "0", "maxResult": "5"})
    assert (query.status_code, query.json()["code"]) == (400, "paramError")
    assert "maxResult" in query.json()["message"]
    assert raw(server, tenant, "GET", listing, params={"parentId": "0"}).status_code == 200


def test_without_strict_mode_unknown_fields_are_ignored(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    space = Storage.of(server, sdk, tenant).new_space()
    folders = f"/v1.0/storage/spaces/{space.id}/dentries/0/folders"
    made = raw(server, tenant, "POST", folders, json={"name": "n", "nmae": "x"})
    assert made.status_code == 200, made.text
    listing = f"/v1.0/storage/spaces/{space.id}/dentries"
    assert (
        raw(server, tenant, "GET", listing, params={"parentId": "0", "x": "1"}).status_code == 200
    )
