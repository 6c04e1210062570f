"""``/openapi.json`` says what the server enforces: for every operation, each parameter (query,
path, header) and top-level body field the document marks required is refused when absent, and
none it marks optional is refused for its absence (docs/errors.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage

TOKEN = "x-acs-dingtalk-access-token"


@dataclass
class Call:
    """One operation, called with what its document marks required and nothing else."""

    name: str
    method: str
    path: str
    params: dict[str, Any]
    body: dict[str, Any] | None
    optional: set[str] = field(default_factory=set)  # query and body fields the doc leaves out

    def send(self, st: Storage, **change: Any) -> httpx.Response:
        kw: dict[str, Any] = {"params": self.params, "headers": {TOKEN: st.token}}
        if self.body is not None:
            kw["json"] = self.body
        kw.update(change)
        return http.request(self.method, st.server.url + self.path, **kw)


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
    if "anyOf" in schema:
        return _resolve(doc, next(s for s in schema["anyOf"] if s.get("type") != "null"))
    return schema


def _sample(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value of ``schema``, with only its required fields."""
    schema = _resolve(doc, schema)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {k: _sample(doc, properties[k]) for k in schema.get("required", [])}
    if kind == "array":
        return [_sample(doc, schema.get("items", {}))]
    return {"integer": 1, "boolean": False}.get(kind, "1")


def _calls(doc: dict[str, Any], values: dict[str, str]) -> Iterator[Call]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            call = Call(op["operationId"], method.upper(), path, {}, None)
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    call.path = call.path.replace("{" + p["name"] + "}", values[p["name"]])
                elif p.get("required"):
                    call.params[p["name"]] = values.get(p["name"], "1")
                else:
                    call.optional.add(p["name"])
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content is not None:
                schema = _resolve(doc, content["schema"])
                call.optional |= set(schema.get("properties", {})) - set(schema.get("required", []))
                if op["requestBody"].get("required"):
                    call.body = _sample(doc, schema)
                else:
                    call.optional.add("body")
            yield call


def _refuses_for(response: httpx.Response, name: str) -> bool:
    """Whether ``response`` refuses the request for want of ``name``."""
    if response.status_code != 400:
        return False
    body = response.json()
    if name == "body":
        return bool(body["code"] == "Missingbody")
    return bool(
        body["code"] == f"paramError.{name}"
        or (body["code"] in ("paramError", "Missingbody") and name in body["message"])
    )


@pytest.fixture
def calls(server: LiveServer, sdk: Sdk, tenant: Tenant) -> tuple[Storage, list[Call]]:
    st = Storage.of(server, sdk, tenant)
    space = st.new_space()
    doc = st.upload(space.id, b"x", "d.txt")
    values = {
        "spaceId": space.id, "dentryId": doc.id, "parentId": "0", "corpId": tenant.corp_id,
        "taskId": "1", "recycleBinId": st.get_recycle_bin(tenant.corp_id).id,
        "recycleItemId": "1", "version": "1", "unionId": tenant.admin_id,
    }  # fmt: skip
    document = http.get(server.url + "/openapi.json").json()
    return st, [c for c in _calls(document, values) if c.path != "/healthz"]


def test_required_parameters_are_refused_when_absent(calls: tuple[Storage, list[Call]]) -> None:
    st, found = calls
    checked = 0
    for call in found:
        for name in call.params:
            response = call.send(st, params={k: v for k, v in call.params.items() if k != name})
            assert _refuses_for(response, name), (call.name, name, response.text)
            checked += 1
        if call.body is None:
            continue
        response = call.send(st, content=b"")
        assert _refuses_for(response, "body"), (call.name, response.text)
        for name in call.body:
            response = call.send(st, json={k: v for k, v in call.body.items() if k != name})
            assert _refuses_for(response, name), (call.name, name, response.text)
            checked += 1
    assert len(found) >= 40 and checked >= 60


def test_optional_parameters_are_not_required(calls: tuple[Storage, list[Call]]) -> None:
    st, found = calls
    for call in found:
        response = call.send(st)
        refused = [name for name in call.optional if _refuses_for(response, name)]
        assert not refused, (call.name, refused, response.text)
