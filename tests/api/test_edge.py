"""The API edge: every integer a client sends is range-checked, and nothing decoded from a client
(a page token, JSON in a query value, a header) raises past the edge — each answers a 400 and
changes nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live import LiveServer, http
from tests.storage import Storage

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
HUGE = [INT64_MAX + 1, INT64_MIN - 1, 10**40]


def assert_param_error(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == f"paramError.{field}", response.text


def _integers(doc: dict[str, Any], schema: dict[str, Any], seen: set[str]) -> Iterator[Any]:
    """Every integer schema reachable from ``schema``."""
    ref = schema.get("$ref")
    if ref is not None:
        if ref not in seen:
            seen.add(ref)
            yield from _integers(doc, doc["components"]["schemas"][ref.split("/")[-1]], seen)
        return
    if schema.get("type") == "integer":
        yield schema
    for key in ("anyOf", "allOf", "oneOf"):
        for inner in schema.get(key, ()):
            yield from _integers(doc, inner, seen)
    for inner in schema.get("properties", {}).values():
        yield from _integers(doc, inner, seen)
    if isinstance(schema.get("items"), dict):
        yield from _integers(doc, schema["items"], seen)


def test_every_integer_a_client_sends_is_bounded(server: LiveServer) -> None:
    """In the document: each integer of a request (path, query, body, however deep) is an
    ``int64``, the range the server checks (schemas.Int64)."""
    doc = http.get(server.url + "/openapi.json").json()
    found = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            roots = [p["schema"] for p in op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            roots += [body["schema"]] if body else []
            for root in roots:
                for integer in _integers(doc, root, set()):
                    found += 1
                    where = f"{method.upper()} {path}"
                    assert integer.get("format") == "int64", where
                    assert INT64_MIN <= integer.get("minimum", INT64_MIN) <= INT64_MAX, where
                    assert "maximum" not in integer, where  # a float there: 2**63, too far
    assert found >= 12


def test_out_of_range_integers_are_400_and_change_nothing(st: Storage) -> None:
    space = st.new_space()
    doc = st.upload(space.id, b"x", "d.txt")
    info = st.upload_info(space.id)
    dentry = f"/spaces/{space.id}/dentries/{doc.id}"
    for n in HUGE:
        cases: list[tuple[str, str, dict[str, Any], str]] = [
            ("POST", "/spaces", {"json": {"option": {"quota": n}}}, "quota"),
            ("POST", f"/spaces/{space.id}/files/uploadInfos/query",
             {"json": {"protocol": "HEADER_SIGNATURE", "multipart": False,
                       "option": {"preCheckParam": {"size": n}}}}, "size"),
            ("POST", f"/spaces/{space.id}/files/commit",
             {"json": {"uploadKey": info.upload_key, "name": "n.txt", "parentId": "0",
                       "option": {"size": n}}}, "size"),
            ("POST", f"{dentry}/downloadInfos/query", {"json": {"option": {"version": n}}},
             "version"),
            ("POST", f"{dentry}/versions/{n}/revert", {}, "version"),
            ("GET", f"/spaces/{space.id}/dentries", {"params": {"parentId": "0", "maxResults": n}},
             "maxResults"),
            ("GET", f"{dentry}/versions", {"params": {"maxResults": n}}, "maxResults"),
            ("POST", "/spaces/files/multiPartUploadInfos/query",
             {"json": {"uploadKey": info.upload_key, "partNumbers": [n]}}, "partNumbers"),
            ("POST", f"{dentry}/permissions",
             {"json": {"roleId": "READER", "members": [{"type": "ORG", "id": st.actor().corp_id}],
                       "option": {"duration": n}}}, "duration"),
            ("POST", f"{dentry}/permissions/query", {"json": {"option": {"maxResults": n}}},
             "maxResults"),
        ]  # fmt: skip
        for method, path, kw, field in cases:
            assert_param_error(st.raw(method, path, **kw), field)
    assert [d.name for d in st.list_all(space.id)] == ["d.txt"]
    assert st.get_dentry(space.id, doc.id).version == 1
    assert st.permissions(space.id, doc.id) == []


def _nested(depth: int) -> str:
    return base64.urlsafe_b64encode(b"[" * depth).decode().rstrip("=")


def test_deeply_nested_json_from_a_client_is_400(st: Storage) -> None:
    space = st.new_space()
    doc = st.upload(space.id, b"x", "d.txt")
    bin_id = st.get_recycle_bin(st.actor().corp_id).id
    dentry = f"/spaces/{space.id}/dentries/{doc.id}"
    for depth in (1_100, 20_000):
        token = _nested(depth)
        for method, path, kw in (
            ("GET", f"/spaces/{space.id}/dentries",
             {"params": {"parentId": "0", "nextToken": token}}),
            ("POST", f"/spaces/{space.id}/dentries/listAll",
             {"json": {"option": {"nextToken": token}}}),
            ("GET", f"{dentry}/versions", {"params": {"nextToken": token}}),
            ("GET", f"/recycleBins/{bin_id}/recycleItems", {"params": {"nextToken": token}}),
            ("POST", f"{dentry}/permissions/query", {"json": {"option": {"nextToken": token}}}),
        ):  # fmt: skip
            assert_param_error(st.raw(method, path, **kw), "nextToken")
        response = st.raw(
            "POST",
            f"/spaces/{space.id}/dentries/permissions/roles/batchQuery",
            params={"dentryIdList": "[" * depth},
        )
        assert_param_error(response, "dentryIdList")
        response = http.post(
            f"{st.server.url}/v1.0/storage/spaces",
            params={"unionId": st.union_id},
            content=b'{"option": ' + b"[" * depth,
            headers={"x-acs-dingtalk-access-token": st.token, "content-type": "application/json"},
        )
        assert (response.status_code, response.json()["code"]) == (400, "paramError")


@pytest.mark.shapes("embedded")  # the self-served data plane (S3 answers for itself)
def test_an_oversized_expiry_in_blob_headers_is_refused(st: Storage) -> None:
    space = st.new_space()
    info = st.upload_info(space.id)
    assert info.header_signature_info is not None
    url = info.header_signature_info.resource_urls[0]
    headers = dict(info.header_signature_info.headers)
    name = "x-dingstore-expires"
    forged = {k: v for k, v in headers.items() if k.lower() != name} | {name: "9" * 5000}
    response = http.put(url, content=b"data", headers=forged)
    assert (response.status_code, response.json()["code"]) == (403, "AccessDenied")


def test_nul_in_any_client_string_is_400(st: Storage) -> None:
    """U+0000 anywhere a client sends text (body, query, inside a page token) is refused at the
    edge with ``paramError.<field>``: PostgreSQL cannot store it, and it failed there with 500."""
    space = st.new_space()
    doc = st.upload(space.id, b"x", "d.txt")
    bad = "a\x00b"
    member_token = base64.urlsafe_b64encode(b'["a\\u0000b", "READER"]').decode()
    name_token = base64.urlsafe_b64encode(b'["a\\u0000b"]').decode()
    dentries, dentry = f"/spaces/{space.id}/dentries", f"/spaces/{space.id}/dentries/{doc.id}"
    upload = {"protocol": "HEADER_SIGNATURE", "multipart": False}
    for method, path, kw, field in (
        ("POST", "/spaces", {"json": {"option": {"scene": bad, "sceneId": "1"}}}, "scene"),
        ("POST", "/spaces", {"json": {"option": {"scene": "s", "sceneId": bad}}}, "sceneId"),
        ("POST", f"/spaces/{space.id}/files/commit",
         {"json": {"uploadKey": bad, "name": "n", "parentId": "0"}}, "uploadKey"),
        ("POST", f"/spaces/{space.id}/files/uploadInfos/query",
         {"json": {**upload, "option": {"preCheckParam": {"md5": bad}}}}, "md5"),
        ("POST", f"{dentries}/0/permissions",
         {"json": {"roleId": "READER", "members": [{"type": "USER", "id": bad}]}}, "members"),
        ("POST", f"{dentries}/0/permissions",
         {"json": {"roleId": "READER", "members": [{"type": "CONVERSATION", "id": bad}]}},
         "members"),
        ("POST", f"{dentry}/query",
         {"json": {"option": {"appIdsForAppProperties": [bad]}}}, "appIdsForAppProperties"),
        ("GET", dentries, {"params": {"parentId": "0", "orderBy": bad}}, "orderBy"),
        ("GET", "/recycleBins", {"params": {"recycleBinScope": "ORG", "scopeId": bad}}, "scopeId"),
        ("POST", f"{dentry}/permissions/query", {"json": {"option": {"nextToken": member_token}}},
         "nextToken"),
        ("GET", dentries, {"params": {"parentId": "0", "orderBy": "NAME", "order": "ASC",
                                      "nextToken": name_token}}, "nextToken"),
        ("GET", f"/spaces/{space.id}", {"params": {"unionId": bad}}, "unionId"),
    ):  # fmt: skip
        assert_param_error(st.raw(method, path, **kw), field)
    assert [d.name for d in st.list_all(space.id)] == ["d.txt"]
    assert st.permissions(space.id, "0") == []
