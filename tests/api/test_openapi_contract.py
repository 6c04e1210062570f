"""``/openapi.json`` says what the server enforces: for every operation, each parameter (query,
path, header) and top-level body field the document marks required is refused when absent, and
none it marks optional is refused for its absence (docs/errors.md); a path id given a pattern
is refused when it does not match; a field given an enum takes each of its values and refuses
any other."""

from __future__ import annotations

import re
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
    if "enum" in schema:
        return schema["enum"][0]
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


@dataclass
class Setting:
    st: Storage
    document: dict[str, Any]
    values: dict[str, str]  # a value for each path parameter, and for unionId

    def calls(self, **values: str) -> list[Call]:
        return [c for c in _calls(self.document, {**self.values, **values}) if c.path != "/healthz"]


@pytest.fixture
def setting(server: LiveServer, sdk: Sdk, tenant: Tenant) -> Setting:
    st = Storage.of(server, sdk, tenant)
    space = st.new_space()
    doc = st.upload(space.id, b"x", "d.txt")
    values = {
        "spaceId": space.id, "dentryId": doc.id, "parentId": "0", "corpId": tenant.corp_id,
        "taskId": "1", "recycleBinId": st.get_recycle_bin(tenant.corp_id).id,
        "recycleItemId": "1", "version": "1", "unionId": tenant.admin_id,
    }  # fmt: skip
    return Setting(st, http.get(server.url + "/openapi.json").json(), values)


@pytest.fixture
def calls(setting: Setting) -> tuple[Storage, list[Call]]:
    return setting.st, setting.calls()


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


def test_path_ids_outside_their_pattern_are_refused(setting: Setting) -> None:
    patterned = {
        p["name"]: p["schema"]["pattern"]
        for item in setting.document["paths"].values()
        for op in item.values()
        for p in op.get("parameters", [])
        if p["in"] == "path" and "pattern" in p["schema"]
    }
    assert set(patterned) == {
        "spaceId", "dentryId", "parentId", "taskId", "recycleBinId", "recycleItemId"
    }  # fmt: skip
    # a call the sample body gets refused anyway (its bogus "1"s) cannot tell: left out
    good = setting.calls()
    telling = [c.send(setting.st).status_code != 400 for c in good]
    checked = 0
    for name, pattern in patterned.items():
        assert re.fullmatch(pattern, setting.values[name])
        bad = f"x{setting.values[name]}"
        assert not re.fullmatch(pattern, bad)
        for call, base, tells in zip(setting.calls(**{name: bad}), good, telling, strict=True):
            # the bad id is in the path only where the path changed: a random corpId may hold
            # "x1" and so the bad taskId as a substring
            if call.path == base.path or not tells:
                continue
            response = call.send(setting.st)
            assert (response.status_code, response.json()["code"]) == (
                400, f"paramError.{name}"
            ), (call.name, response.text)  # fmt: skip
            checked += 1
    assert checked >= 30, checked


def _enums(doc: dict[str, Any], call: Call, op: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """(where, values) of each enum'd query parameter, top-level body field and field of the
    body's ``option``: ``where`` is ``q.name``, ``b.name`` or ``o.name``."""
    for p in op.get("parameters", []):
        if p["in"] == "query" and "enum" in (schema := _resolve(doc, p["schema"])):
            yield f"q.{p['name']}", schema["enum"]
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return
    body = _resolve(doc, content["schema"])
    for name, field_schema in body.get("properties", {}).items():
        resolved = _resolve(doc, field_schema)
        if "enum" in resolved:
            yield f"b.{name}", resolved["enum"]
        elif name == "option":
            for inner, inner_schema in resolved.get("properties", {}).items():
                if "enum" in (found := _resolve(doc, inner_schema)):
                    yield f"o.{inner}", found["enum"]


def _with(call: Call, where: str, value: str) -> dict[str, Any]:
    """``send``'s arguments with ``value`` put at ``where``."""
    kind, name = where.split(".", 1)
    if kind == "q":
        return {"params": {**call.params, name: value}}
    body = dict(call.body or {})
    if kind == "b":
        body[name] = value
    else:
        body["option"] = {**body.get("option", {}), name: value}
    return {"json": body}


# Where DingTalk's code names a field otherwise (spec: GetDentryOpenInfo's option.type answers
# paramError.openType).
CODE_NAMES = {"type": "openType"}


def test_enum_fields_take_their_values_and_refuse_others(setting: Setting) -> None:
    doc, st = setting.document, setting.st
    ops = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()}
    checked: set[str] = set()
    for call in setting.calls():
        for where, values in _enums(doc, call, ops[call.name]):
            name = CODE_NAMES.get(where.split(".", 1)[1], where.split(".", 1)[1])
            refused = call.send(st, **_with(call, where, "NOT_A_VALUE"))
            assert (refused.status_code, refused.json()["code"]) == (
                400, f"paramError.{name}"
            ), (call.name, where, refused.text)  # fmt: skip
            for value in values:
                taken = call.send(st, **_with(call, where, value))
                assert not _refuses_for(taken, name), (call.name, where, value, taken.text)
            checked.add(f"{call.name} {where}")
    assert len(checked) >= 20, sorted(checked)
