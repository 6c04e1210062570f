"""Folders and the tree (spec §6 C, ops 5 to 13) through the official SDK: AddFolder, GetDentry,
GetDentries, ListDentries, ListAllDentries, RenameDentry, and the synchronous CopyDentry,
MoveDentry and DeleteDentry of a file or an empty folder."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest

from dingstore.clock import Clock, iso
from dingstore.service import scopes
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage

T0 = 1_700_000_000_000
MISSING = "424242"


class StoppedClock(Clock):
    """A clock only the test moves (epoch ms), given to the server's dentry service, so that
    orders by time are known exactly."""

    def __init__(self, server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = T0
        monkeypatch.setattr(server.services.dentries, "_clock", self)

    def now_ms(self) -> int:
        return self.now

    def tick(self, ms: int = 1_000) -> int:
        self.now += ms
        return self.now


def fails(call: Any, status: int, code: str) -> None:
    err = sdk_error(call)
    assert (err.statusCode, err.code) == (status, code), err.data


def names(items: list[Any]) -> list[str]:
    return [d.name for d in items]


def forged_token(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# --- AddFolder ------------------------------------------------------------------------------


def test_add_folder_at_the_root_and_nested(tenant: Tenant, st: Storage) -> None:
    space = st.new_space()
    a = st.add_folder(space.id, "a")
    assert (a.type, a.name, a.path, a.parent_id, a.space_id) == ("FOLDER", "a", "/a", "0", space.id)
    assert (a.status, a.creator_id, a.modifier_id) == ("NORMAL", tenant.admin_id, tenant.admin_id)
    assert a.id.isdigit() and a.uuid
    assert (a.size, a.version, a.extension) == (None, None, None)
    b = st.add_folder(space.id, "b", a.id)
    c = st.add_folder(space.id, "c", b.id)
    assert (b.path, b.parent_id) == ("/a/b", a.id)
    assert (c.path, c.parent_id) == ("/a/b/c", b.id)
    assert names(st.list_dentries(space.id)) == ["a"]
    assert names(st.list_dentries(space.id, b.id)) == ["c"]
    assert len({a.uuid, b.uuid, c.uuid}) == 3


def test_folder_body_leaves_out_file_fields(st: Storage) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "  docs  ")
    assert (folder.name, folder.path) == ("docs", "/docs")
    raw = st.raw_dentry(space.id, folder.id)
    assert not {"size", "version", "extension", "category", "thumbnail"} & set(raw)
    assert raw["type"] == "FOLDER" and raw["name"] == "docs" and raw["appProperties"] == {}
    assert raw["properties"] == {"readOnly": False}
    listed = st.raw_children(space.id)
    assert len(listed) == 1 and "size" not in listed[0] and "version" not in listed[0]

    file = st.upload(space.id, b"abc", "notes.txt", parent_id=folder.id)
    raw_file = st.raw_dentry(space.id, file.id)
    assert (raw_file["size"], raw_file["version"], raw_file["extension"]) == (3, 1, "txt")
    assert raw_file["path"] == "/docs/notes.txt"


def test_add_folder_conflict_strategies(st: Storage) -> None:
    space = st.new_space()
    docs = st.add_folder(space.id, "docs")
    assert st.add_folder(space.id, "docs").name == "docs(1)"  # AUTO_RENAME is the default
    assert st.add_folder(space.id, "docs", conflict_strategy="AUTO_RENAME").name == "docs(2)"
    same = st.add_folder(space.id, "docs", conflict_strategy="RETURN_DENTRY_IF_EXISTS")
    assert (same.id, same.name) == (docs.id, "docs")
    overwritten = st.add_folder(space.id, "docs", conflict_strategy="OVERWRITE")
    assert (overwritten.id, overwritten.name) == (docs.id, "docs")
    fails(
        lambda: st.add_folder(space.id, "docs", conflict_strategy="RETURN_ERROR_IF_EXISTS"),
        400,
        "dentryAlreadyExist",
    )
    # OVERWRITE does not turn a file into a folder
    st.upload(space.id, b"x", "report")
    fails(
        lambda: st.add_folder(space.id, "report", conflict_strategy="OVERWRITE"),
        400,
        "dentryAlreadyExist",
    )
    assert st.add_folder(space.id, "report").name == "report(1)"
    assert sorted(names(st.list_dentries(space.id))) == [
        "docs",
        "docs(1)",
        "docs(2)",
        "report",
        "report(1)",
    ]
    # a freed name is used again; otherwise the first number not taken
    st.delete(space.id, docs.id)
    assert st.add_folder(space.id, "docs").name == "docs"
    assert st.add_folder(space.id, "docs").name == "docs(3)"


def test_add_folder_bad_parameters(server: LiveServer, sdk: Sdk, st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"x", "a.txt")
    fails(
        lambda: st.add_folder(space.id, "x", conflict_strategy="REPLACE"),
        400,
        "paramError.conflictStrategy",
    )
    # a nested field answers with its own name, as the spec lists it
    typed_wrong = st.raw(
        "POST", f"/spaces/{space.id}/dentries/0/folders",
        json={"name": "x", "option": {"conflictStrategy": 5}},
    )  # fmt: skip
    assert (typed_wrong.status_code, typed_wrong.json()["code"]) == (
        400, "paramError.conflictStrategy",
    )  # fmt: skip
    assert "option.conflictStrategy" in typed_wrong.json()["message"]
    fails(lambda: st.add_folder(space.id, "x", MISSING), 404, "dentryNotExist")
    fails(lambda: st.add_folder(space.id, "x", file.id), 404, "dentryNotExist")
    fails(lambda: st.add_folder(space.id, "x", "abc"), 400, "paramError.parentId")
    fails(lambda: st.add_folder(MISSING, "x"), 404, "spaceNotExist")
    foreign = Storage.of(server, sdk, new_tenant(server, sdk)).new_space()
    fails(lambda: st.add_folder(foreign.id, "x"), 404, "spaceNotExist")
    assert names(st.list_dentries(space.id)) == ["a.txt"]


def test_add_folder_with_app_properties(
    server: LiveServer, sdk: Sdk, tenant: Tenant, st: Storage
) -> None:
    space = st.new_space()
    app_id = tenant.boot.credentials.app.app_id
    props = [("color", "red", "PUBLIC"), ("owner", "ops", "PRIVATE"), ("tier", "1", "PUBLIC")]
    folder = st.add_folder(space.id, "tagged", app_properties=props)
    # The SDK parses the map but loses its keys (spec §8.2); the raw body has them.
    assert folder.app_properties is not None
    expected = sorted(
        ({"name": n, "value": v, "visibility": vis} for n, v, vis in props), key=lambda p: p["name"]
    )
    for raw in (st.raw_dentry(space.id, folder.id), st.raw_children(space.id)[0]):
        assert list(raw["appProperties"]) == [app_id]
        assert sorted(raw["appProperties"][app_id], key=lambda p: p["name"]) == expected

    # another app of the org sees the PUBLIC ones only
    creds = server.run(server.services.identity.create_app(tenant.corp_id, "other"))
    assert creds.app.app_key is not None
    token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token
    seen = Storage(server, sdk, token, tenant.admin_id).raw_dentry(space.id, folder.id)
    assert {p["name"] for p in seen["appProperties"][app_id]} == {"color", "tier"}

    four = [*props, ("extra", "x", "PUBLIC")]
    fails(
        lambda: st.add_folder(space.id, "too-many", app_properties=four),
        400,
        "dentryAppPropertiesNumberExceedsLimit",
    )
    fails(
        lambda: st.add_folder(space.id, "bad", app_properties=[("k", "v", "SECRET")]),
        400,
        "paramError.appProperties",
    )
    assert names(st.list_dentries(space.id)) == ["tagged"]


def test_an_app_without_file_write_cannot_add_folders(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    reader_scopes = tuple(s for s in scopes.ALL if s != "Storage.File.Write")
    creds = server.run(server.services.identity.create_app(tenant.corp_id, "ro", reader_scopes))
    assert creds.app.app_key is not None
    token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token
    reader = Storage(server, sdk, token, tenant.admin_id)
    space = reader.new_space()
    err = sdk_error(lambda: reader.add_folder(space.id, "x"))
    assert (err.statusCode, err.code) == (403, "Forbidden.AccessDenied.AccessTokenPermissionDenied")
    assert err.accessDeniedDetail == {"requiredScopes": ["Storage.File.Write"]}
    assert reader.list_dentries(space.id) == []


# --- GetDentry, GetDentries -----------------------------------------------------------------


def test_get_dentry(server: LiveServer, sdk: Sdk, st: Storage) -> None:
    space, other_space = st.new_space(), st.new_space()
    folder = st.add_folder(space.id, "a")
    nested = st.add_folder(space.id, "b", folder.id)
    got = st.get_dentry(space.id, nested.id)
    assert got.to_map() == nested.to_map()
    assert st.get_dentry(space.id, folder.id, with_thumbnail=True).name == "a"
    fails(lambda: st.get_dentry(space.id, MISSING), 404, "dentryNotExist")
    fails(lambda: st.get_dentry(other_space.id, folder.id), 404, "dentryNotExist")
    fails(lambda: st.get_dentry(space.id, "x1"), 400, "paramError.dentryId")
    fails(lambda: st.get_dentry(MISSING, folder.id), 404, "spaceNotExist")
    stranger = Storage.of(server, sdk, new_tenant(server, sdk))
    fails(lambda: stranger.get_dentry(space.id, folder.id), 404, "spaceNotExist")


def test_get_dentries(st: Storage) -> None:
    space, other_space = st.new_space(), st.new_space()
    a, b, c = (st.add_folder(space.id, n) for n in "abc")
    elsewhere = st.add_folder(other_space.id, "z")
    asked = [c.id, MISSING, a.id, elsewhere.id, b.id]
    items = st.get_dentries(space.id, asked)
    assert [i.dentry_id for i in items] == asked
    assert [i.success for i in items] == [True, False, True, False, True]
    assert [i.error_code for i in items] == [None, "dentryNotExist", None, "dentryNotExist", None]
    assert [i.dentry.name if i.dentry else None for i in items] == ["c", None, "a", None, "b"]
    assert {i.space_id for i in items} == {space.id}
    assert items[0].dentry.to_map() == st.get_dentry(space.id, c.id).to_map()

    thirty = [a.id, b.id, c.id] * 10
    assert [i.dentry.name for i in st.get_dentries(space.id, thirty)] == ["a", "b", "c"] * 10
    fails(lambda: st.get_dentries(space.id, [*thirty, a.id]), 400, "paramError.dentryIds")
    fails(lambda: st.get_dentries(space.id, []), 400, "paramError.dentryIds")
    fails(lambda: st.get_dentries(space.id, [a.id, "abc"]), 400, "paramError.dentryIds")
    fails(lambda: st.get_dentries(MISSING, [a.id]), 404, "spaceNotExist")


# --- ListDentries ---------------------------------------------------------------------------


def test_list_dentries_pages_500_children_in_every_order(
    server: LiveServer, st: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """500 children, each order: every page full but the last, nothing lost or repeated, and
    the order exactly that of the key (creation, modification and name orders all differ)."""
    service, actor = server.services.dentries, st.actor()
    space = st.new_space()
    parent = st.add_folder(space.id, "big")
    clock = StoppedClock(server, monkeypatch)
    rng = random.Random(500)
    rows: dict[str, dict[str, Any]] = {}
    for n in rng.sample(range(100_000), 500):
        made = server.run(service.add_folder(actor, space.id, parent.id, f"n{n:05d}", None))
        rows[str(made.id)] = {"created": clock.now, "modified": clock.now, "name": made.name}
        clock.tick()
    renamed = list(rows)[::7]
    rng.shuffle(renamed)
    clock.tick(1_000_000)
    for j, dentry_id in enumerate(renamed):
        server.run(service.rename(actor, space.id, dentry_id, f"m{j:03d}"))
        rows[dentry_id].update(modified=clock.now, name=f"m{j:03d}")
        clock.tick()

    ascending = {
        "MODIFIED_TIME": sorted(rows, key=lambda i: rows[i]["modified"]),
        "CREATE_TIME": sorted(rows, key=lambda i: rows[i]["created"]),
        "NAME": sorted(rows, key=lambda i: rows[i]["name"]),
    }
    assert len({tuple(v) for v in ascending.values()}) == 3
    for order_by, expected in ascending.items():
        for order in ("ASC", "DESC"):
            found = st.list_dentries(
                space.id, parent.id, max_results=50, order_by=order_by, order=order
            )
            assert [d.id for d in found] == (expected if order == "ASC" else expected[::-1]), (
                order_by,
                order,
            )

    default = st.list_dentries(space.id, parent.id, max_results=50)  # MODIFIED_TIME DESC
    assert [d.id for d in default] == ascending["MODIFIED_TIME"][::-1]
    for d in default[:3] + default[-3:]:
        assert d.modified_time == iso(rows[d.id]["modified"])
        assert d.create_time == iso(rows[d.id]["created"])
        assert (d.name, d.path) == (rows[d.id]["name"], f"/big/{rows[d.id]['name']}")

    for order in ("ASC", "DESC"):  # every folder's size is 0: one long tie to page through
        found = st.list_dentries(space.id, parent.id, max_results=50, order_by="SIZE", order=order)
        assert len(found) == 500 and {d.id for d in found} == set(rows)


def test_list_dentries_by_size(st: Storage) -> None:
    space = st.new_space()
    sizes = [7, 1, 4, 4, 9, 2, 4, 8, 1, 6]
    for i, size in enumerate(sizes):
        st.upload(space.id, b"x" * size, f"f{i}.bin")
    st.add_folder(space.id, "d1")
    st.add_folder(space.id, "d2")
    everything = sorted([f"f{i}.bin" for i in range(len(sizes))] + ["d1", "d2"])
    for order in ("ASC", "DESC"):
        found = st.list_dentries(space.id, max_results=3, order_by="SIZE", order=order)
        assert sorted(names(found)) == everything
        keys = [d.size if d.type == "FILE" else 0 for d in found]
        assert keys == sorted([0, 0, *sizes], reverse=order == "DESC")


def test_list_dentries_refuses_bad_parameters(st: Storage) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "a")
    file = st.upload(space.id, b"x", "f.txt", parent_id=folder.id)
    for i in range(3):
        st.add_folder(space.id, f"b{i}")
    assert len(st.list_page(space.id, max_results=50).dentries) == 4
    for bad in (51, 0, -1):
        fails(lambda n=bad: st.list_page(space.id, max_results=n), 400, "paramError.maxResults")
    fails(lambda: st.list_page(space.id, parent_id=None), 400, "paramError.parentId")
    fails(lambda: st.list_page(space.id, parent_id="x"), 400, "paramError.parentId")
    fails(lambda: st.list_page(space.id, parent_id=MISSING), 404, "dentryNotExist")
    fails(lambda: st.list_page(space.id, parent_id=file.id), 404, "dentryNotExist")
    fails(lambda: st.list_page(MISSING), 404, "spaceNotExist")
    fails(lambda: st.list_page(space.id, order_by="COLOR"), 400, "paramError.orderBy")
    fails(lambda: st.list_page(space.id, order="UP"), 400, "paramError.order")

    first = st.list_page(space.id, max_results=1, order_by="NAME", order="ASC")
    assert names(first.dentries) == ["a"]
    by_name = first.next_token
    assert by_name
    bad_tokens = [
        "not a token!",
        forged_token(["a", "b"]),
        forged_token([[1], {}]),
        forged_token([2**70, 1]),
        forged_token([None, None]),
        forged_token([1.5, 1]),
        by_name,  # a NAME token used for MODIFIED_TIME
    ]
    for token in bad_tokens:
        fails(lambda t=token: st.list_page(space.id, next_token=t), 400, "paramError.nextToken")
    fails(
        lambda: st.list_page(space.id, order_by="NAME", next_token=forged_token([5])),
        400,
        "paramError.nextToken",
    )
    # the real token carries on
    rest = st.list_page(space.id, order_by="NAME", order="ASC", next_token=by_name, max_results=50)
    assert names(rest.dentries) == ["b0", "b1", "b2"] and not rest.next_token


def test_list_dentries_with_thumbnails(st: Storage) -> None:
    space = st.new_space()
    st.add_folder(space.id, "a")
    st.upload(space.id, b"\x89PNG", "p.png")
    plain = st.list_page(space.id)
    with_thumbnail = st.list_page(space.id, with_thumbnail=True)
    assert names(with_thumbnail.dentries) == names(plain.dentries) == ["p.png", "a"]
    assert with_thumbnail.dentries[0].category == "IMAGE"


# --- ListAllDentries ------------------------------------------------------------------------


def test_list_all_dentries(st: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = StoppedClock(st.server, monkeypatch)
    space, other = st.new_space(), st.new_space()

    def folder(name: str, parent: str = "0") -> str:
        clock.tick()
        return str(st.add_folder(space.id, name, parent).id)

    a = folder("a")
    b = folder("b", a)
    c = folder("c", b)
    d = folder("d")
    folder("e", d)
    folder("f", a)
    folder("g", c)
    st.add_folder(other.id, "elsewhere")
    clock.tick()
    st.rename(space.id, b, "b2")  # the latest change: last, and its descendants' paths change
    gone = folder("gone")
    st.delete(space.id, gone)

    oldest_first = ["/a", "/a/b2/c", "/d", "/d/e", "/a/f", "/a/b2/c/g", "/a/b2"]
    for size in (None, 1, 3, 50):
        found = st.list_all(space.id, max_results=size)
        assert [x.path for x in found] == oldest_first
        assert {x.space_id for x in found} == {space.id}
        assert [x.path for x in st.list_all(space.id, max_results=size, order="ASC")] == (
            oldest_first
        )
        newest_first = st.list_all(space.id, max_results=size, order="DESC")
        assert [x.path for x in newest_first] == oldest_first[::-1]
    first = st.list_all_page(space.id, max_results=2, with_thumbnail=True)
    assert [x.path for x in first.dentries] == oldest_first[:2] and first.next_token
    assert first.dentries[0].modified_time == iso(T0 + 1_000)

    fails(lambda: st.list_all_page(space.id, max_results=51), 400, "paramError.maxResults")
    fails(lambda: st.list_all_page(space.id, next_token="?!"), 400, "paramError.nextToken")
    fails(
        lambda: st.list_all_page(space.id, next_token=forged_token(["x", 1])),
        400,
        "paramError.nextToken",
    )
    fails(lambda: st.list_all_page(space.id, order="SIDEWAYS"), 400, "paramError.order")
    fails(lambda: st.list_all_page(MISSING), 404, "spaceNotExist")
    assert st.list_all(st.new_space().id) == []


# --- RenameDentry ---------------------------------------------------------------------------


def test_rename(tenant: Tenant, st: Storage) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "a")
    child = st.add_folder(space.id, "child", folder.id)
    file = st.upload(space.id, b"abc", "notes.txt", parent_id=folder.id)

    renamed = st.rename(space.id, folder.id, "  renamed  ")
    assert (renamed.id, renamed.name, renamed.path, renamed.uuid) == (
        folder.id,
        "renamed",
        "/renamed",
        folder.uuid,
    )
    assert renamed.modifier_id == tenant.admin_id
    assert st.get_dentry(space.id, child.id).path == "/renamed/child"
    assert names(st.list_dentries(space.id)) == ["renamed"]

    moved_ext = st.rename(space.id, file.id, "notes.md")
    assert (moved_ext.name, moved_ext.path) == ("notes.md", "/renamed/notes.md")
    assert st.raw_dentry(space.id, file.id)["extension"] == "md"
    assert st.download(space.id, file.id) == b"abc"

    before = st.raw_dentry(space.id, folder.id)
    assert st.rename(space.id, folder.id, "renamed").name == "renamed"  # a no-op
    assert st.raw_dentry(space.id, folder.id) == before
    assert st.rename(space.id, folder.id, "Renamed").name == "Renamed"  # case alone is a change


def test_rename_refusals(st: Storage) -> None:
    space = st.new_space()
    a = st.add_folder(space.id, "a")
    st.add_folder(space.id, "b")
    f = st.upload(space.id, b"x", "c.txt")
    inner = st.add_folder(space.id, "b", a.id)  # same name, another folder: no conflict
    assert inner.name == "b"
    fails(lambda: st.rename(space.id, a.id, "b"), 400, "dentryAlreadyExist")
    fails(lambda: st.rename(space.id, f.id, " b "), 400, "dentryAlreadyExist")
    fails(lambda: st.rename(space.id, a.id, "c.txt"), 400, "dentryAlreadyExist")
    for bad in ("a*b", "x.", "", "   ", "a/b", "tab\there", 'q"', "<", ">", "|", "back\\"):
        fails(lambda n=bad: st.rename(space.id, a.id, n), 400, "paramError.name")
    fails(lambda: st.rename(space.id, "0", "root"), 400, "paramError.dentryId")
    fails(lambda: st.rename(space.id, "zz", "root"), 400, "paramError.dentryId")
    fails(lambda: st.rename(space.id, MISSING, "x"), 404, "dentryNotExist")
    fails(lambda: st.rename(MISSING, a.id, "x"), 404, "spaceNotExist")
    assert sorted(names(st.list_dentries(space.id))) == ["a", "b", "c.txt"]


# --- CopyDentry -----------------------------------------------------------------------------


def test_copy_a_file_within_and_across_spaces(st: Storage) -> None:
    src, dst = st.new_space(), st.new_space()
    data = b"0123456789" * 10
    folder = st.add_folder(src.id, "in")
    file = st.upload(src.id, data, "a.txt", app_properties=[("k", "v", "PUBLIC")])

    result = st.copy(src.id, file.id, src.id, folder.id)
    assert (result.async_, result.task_id) == (False, None)
    copy = result.dentry
    assert (copy.type, copy.name, copy.path, copy.parent_id, copy.space_id) == (
        "FILE",
        "a.txt",
        "/in/a.txt",
        folder.id,
        src.id,
    )
    assert (copy.size, copy.version) == (100, 1)
    assert copy.id != file.id and copy.uuid != file.uuid
    assert st.download(src.id, copy.id) == data
    assert st.used_quota(src.id) == 200
    assert (
        st.raw_dentry(src.id, copy.id)["appProperties"]
        == (st.raw_dentry(src.id, file.id)["appProperties"])
    )

    across = st.copy(src.id, file.id, dst.id).dentry
    assert (across.space_id, across.path, across.size) == (dst.id, "/a.txt", 100)
    assert (st.used_quota(src.id), st.used_quota(dst.id)) == (200, 100)
    assert st.download(dst.id, across.id) == data

    st.delete(src.id, file.id)  # copies do not depend on their original
    assert st.download(dst.id, across.id) == data and st.download(src.id, copy.id) == data
    assert (st.used_quota(src.id), st.used_quota(dst.id)) == (100, 100)


def test_copy_an_empty_folder(st: Storage) -> None:
    src, dst = st.new_space(), st.new_space()
    folder = st.add_folder(src.id, "empty")
    result = st.copy(src.id, folder.id, dst.id)
    assert (result.async_, result.task_id) == (False, None)
    copy = result.dentry
    assert (copy.type, copy.name, copy.path, copy.space_id) == ("FOLDER", "empty", "/empty", dst.id)
    assert copy.id != folder.id
    assert (st.used_quota(src.id), st.used_quota(dst.id)) == (0, 0)
    assert names(st.list_dentries(src.id)) == ["empty"]
    same_place = st.copy(src.id, folder.id, src.id).dentry
    assert same_place.name == "empty(1)"
    fails(
        lambda: st.copy(src.id, folder.id, dst.id, conflict_strategy="RETURN_ERROR_IF_EXISTS"),
        400,
        "dentryAlreadyExist",
    )
    kept = st.copy(src.id, folder.id, dst.id, conflict_strategy="OVERWRITE").dentry
    assert kept.id == copy.id
    assert names(st.list_dentries(dst.id)) == ["empty"]


def test_copy_conflict_strategies_at_the_target(st: Storage) -> None:
    space = st.new_space()
    source = st.upload(space.id, b"new content", "a.txt")
    target = st.add_folder(space.id, "t")
    old = st.upload(space.id, b"old", "a.txt", parent_id=target.id)
    assert st.used_quota(space.id) == 14

    renamed = st.copy(space.id, source.id, space.id, target.id).dentry  # AUTO_RENAME
    assert (renamed.name, renamed.path) == ("a(1).txt", "/t/a(1).txt")
    assert st.used_quota(space.id) == 25

    fails(
        lambda: st.copy(
            space.id, source.id, space.id, target.id, conflict_strategy="RETURN_ERROR_IF_EXISTS"
        ),
        400,
        "dentryAlreadyExist",
    )
    returned = st.copy(
        space.id, source.id, space.id, target.id, conflict_strategy="RETURN_DENTRY_IF_EXISTS"
    ).dentry
    assert (returned.id, returned.version, returned.size) == (old.id, 1, 3)
    assert st.used_quota(space.id) == 25

    overwritten = st.copy(
        space.id, source.id, space.id, target.id, conflict_strategy="OVERWRITE"
    ).dentry
    assert (overwritten.id, overwritten.name, overwritten.version, overwritten.size) == (
        old.id,
        "a.txt",
        2,
        11,
    )
    assert st.download(space.id, old.id) == b"new content"
    assert st.download(space.id, old.id, version=1) == b"old"
    assert [v.version for v in st.versions(space.id, old.id)] == [2, 1]
    assert st.used_quota(space.id) == 36  # every stored version counts
    assert sorted(names(st.list_dentries(space.id, target.id))) == ["a(1).txt", "a.txt"]
    fails(
        lambda: st.copy(space.id, source.id, space.id, target.id, conflict_strategy="MERGE"),
        400,
        "paramError.conflictStrategy",
    )


def test_copy_past_the_target_quota_changes_nothing(st: Storage) -> None:
    src, dst = st.new_space(), st.new_space(quota=150)
    file = st.upload(src.id, b"x" * 100, "a.bin")
    first = st.copy(src.id, file.id, dst.id).dentry
    fails(lambda: st.copy(src.id, file.id, dst.id), 400, "spaceQuotaInsufficient")
    fails(
        lambda: st.copy(src.id, file.id, dst.id, conflict_strategy="OVERWRITE"),
        400,
        "spaceQuotaInsufficient",
    )
    assert (st.used_quota(src.id), st.used_quota(dst.id)) == (100, 100)
    assert names(st.list_dentries(dst.id)) == ["a.bin"]
    assert [v.version for v in st.versions(dst.id, first.id)] == [1]
    small = st.upload(src.id, b"y" * 50, "b.bin")
    assert st.copy(src.id, small.id, dst.id).dentry.size == 50  # exactly full is fine
    assert st.used_quota(dst.id) == 150


# --- MoveDentry -----------------------------------------------------------------------------


def test_move_a_file_within_a_space(st: Storage) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "a")
    file = st.upload(space.id, b"data", "f.txt")
    result = st.move(space.id, file.id, space.id, folder.id)
    assert (result.async_, result.task_id) == (False, None)
    moved = result.dentry
    assert (moved.id, moved.uuid, moved.parent_id, moved.path, moved.space_id) == (
        file.id,
        file.uuid,
        folder.id,
        "/a/f.txt",
        space.id,
    )
    assert names(st.list_dentries(space.id)) == ["a"]
    assert names(st.list_dentries(space.id, folder.id)) == ["f.txt"]
    assert st.used_quota(space.id) == 4
    again = st.move(space.id, file.id, space.id, folder.id, preserve_permissions=True).dentry
    assert (again.id, again.name, again.path) == (file.id, "f.txt", "/a/f.txt")
    back = st.move(space.id, file.id, space.id, "0").dentry
    assert back.path == "/f.txt" and st.download(space.id, file.id) == b"data"


def test_move_across_spaces_takes_the_usage_along(st: Storage) -> None:
    src, dst = st.new_space(), st.new_space()
    file = st.upload(src.id, b"x" * 100, "f.bin")
    st.upload(src.id, b"y" * 30, "f.bin", conflict_strategy="OVERWRITE")
    folder = st.add_folder(src.id, "empty")
    assert st.used_quota(src.id) == 130

    result = st.move(src.id, file.id, dst.id)
    assert (result.async_, result.task_id) == (False, None)
    moved = result.dentry
    assert (moved.uuid, moved.space_id, moved.path, moved.version, moved.size) == (
        file.uuid,
        dst.id,
        "/f.bin",
        2,
        30,
    )
    assert (st.used_quota(src.id), st.used_quota(dst.id)) == (0, 130)
    fails(lambda: st.get_dentry(src.id, file.id), 404, "dentryNotExist")
    assert st.download(dst.id, moved.id) == b"y" * 30
    assert st.download(dst.id, moved.id, version=1) == b"x" * 100
    assert [v.version for v in st.versions(dst.id, moved.id)] == [2, 1]

    moved_folder = st.move(src.id, folder.id, dst.id).dentry
    assert (moved_folder.uuid, moved_folder.space_id, moved_folder.type) == (
        folder.uuid,
        dst.id,
        "FOLDER",
    )
    assert st.list_dentries(src.id) == []
    assert sorted(names(st.list_dentries(dst.id))) == ["empty", "f.bin"]


def test_move_conflict_strategies_at_the_target(st: Storage) -> None:
    space = st.new_space()
    target = st.add_folder(space.id, "t")
    old = st.upload(space.id, b"old", "n.txt", parent_id=target.id)
    first = st.upload(space.id, b"first", "n.txt")

    fails(
        lambda: st.move(
            space.id, first.id, space.id, target.id, conflict_strategy="RETURN_ERROR_IF_EXISTS"
        ),
        400,
        "dentryAlreadyExist",
    )
    assert st.get_dentry(space.id, first.id).path == "/n.txt"
    renamed = st.move(space.id, first.id, space.id, target.id).dentry  # AUTO_RENAME
    assert (renamed.id, renamed.path) == (first.id, "/t/n(1).txt")

    second = st.upload(space.id, b"second", "n.txt")
    returned = st.move(
        space.id, second.id, space.id, target.id, conflict_strategy="RETURN_DENTRY_IF_EXISTS"
    ).dentry
    assert returned.id == old.id
    assert st.get_dentry(space.id, second.id).path == "/n.txt"  # not moved

    assert st.used_quota(space.id) == 3 + 5 + 6
    replaced = st.move(
        space.id, second.id, space.id, target.id, conflict_strategy="OVERWRITE"
    ).dentry
    # the moved file takes the name; the one it replaces goes, with its bytes
    assert (replaced.id, replaced.uuid, replaced.path) == (second.id, second.uuid, "/t/n.txt")
    fails(lambda: st.get_dentry(space.id, old.id), 404, "dentryNotExist")
    assert st.download(space.id, second.id) == b"second"
    assert st.used_quota(space.id) == 5 + 6
    assert sorted(names(st.list_dentries(space.id, target.id))) == ["n(1).txt", "n.txt"]
    assert names(st.list_dentries(space.id)) == ["t"]


def test_move_refusals(server: LiveServer, sdk: Sdk, st: Storage) -> None:
    space, small = st.new_space(), st.new_space(quota=50)
    empty = st.add_folder(space.id, "empty")
    outer = st.add_folder(space.id, "outer")
    inner = st.add_folder(space.id, "inner", outer.id)
    file = st.upload(space.id, b"x" * 100, "f.bin")

    fails(lambda: st.move(space.id, empty.id, space.id, empty.id), 400, "paramError.targetFolderId")
    fails(lambda: st.move(space.id, outer.id, space.id, inner.id), 400, "paramError.targetFolderId")
    fails(lambda: st.move(space.id, outer.id, space.id, outer.id), 400, "paramError.targetFolderId")
    for call in (st.move, st.copy):
        fails(lambda c=call: c(space.id, file.id, space.id, MISSING), 404, "dentryNotExist")
        fails(lambda c=call: c(space.id, file.id, space.id, file.id), 404, "dentryNotExist")
        fails(lambda c=call: c(space.id, file.id, space.id, "t1"), 400, "paramError.targetFolderId")
        fails(lambda c=call: c(space.id, file.id, "s1"), 400, "paramError.targetSpaceId")
        # a well-formed id of no space (or of another org's): spec §6 C.11 "404 spaceNotExist
        # (source or target)"
        fails(lambda c=call: c(space.id, file.id, MISSING), 404, "spaceNotExist")
        fails(lambda c=call: c(space.id, MISSING, space.id), 404, "dentryNotExist")
    foreign = Storage.of(server, sdk, new_tenant(server, sdk)).new_space()
    fails(lambda: st.move(space.id, file.id, foreign.id), 404, "spaceNotExist")
    fails(lambda: st.move(space.id, file.id, small.id), 400, "spaceQuotaInsufficient")
    fails(
        lambda: st.move(space.id, file.id, space.id, conflict_strategy="KEEP"),
        400,
        "paramError.conflictStrategy",
    )

    assert (st.used_quota(space.id), st.used_quota(small.id)) == (100, 0)
    assert sorted(names(st.list_dentries(space.id))) == ["empty", "f.bin", "outer"]
    assert st.get_dentry(space.id, inner.id).path == "/outer/inner"
    assert st.list_dentries(small.id) == []


# --- DeleteDentry ---------------------------------------------------------------------------


def test_delete_for_good_releases_the_quota(st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"x" * 100, "f.bin")
    st.upload(space.id, b"y" * 30, "f.bin", conflict_strategy="OVERWRITE")
    keep = st.upload(space.id, b"z" * 7, "keep.bin")
    folder = st.add_folder(space.id, "empty")
    assert st.used_quota(space.id) == 137

    result = st.delete(space.id, file.id)
    assert (result.async_, result.task_id) == (False, None)
    fails(lambda: st.get_dentry(space.id, file.id), 404, "dentryNotExist")
    assert st.used_quota(space.id) == 7
    st.delete(space.id, folder.id, to_recycle_bin=False)
    fails(lambda: st.get_dentry(space.id, folder.id), 404, "dentryNotExist")
    assert names(st.list_dentries(space.id)) == ["keep.bin"]
    assert [x.id for x in st.list_all(space.id)] == [keep.id]
    fails(lambda: st.delete(space.id, file.id), 404, "dentryNotExist")
    fails(lambda: st.delete(space.id, "0"), 400, "paramError.dentryId")
    fails(lambda: st.delete(space.id, "f1"), 400, "paramError.dentryId")
    fails(lambda: st.delete(MISSING, keep.id), 404, "spaceNotExist")
    # the name is free again
    assert st.upload(space.id, b"new", "f.bin").name == "f.bin"


def test_delete_to_the_recycle_bin(st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"x" * 10, "f.bin")
    folder = st.add_folder(space.id, "empty")
    other = st.add_folder(space.id, "other")
    for dentry in (file, folder):
        result = st.delete(space.id, dentry.id, to_recycle_bin=True)
        assert (result.async_, result.task_id) == (False, None)
        fails(lambda d=dentry: st.get_dentry(space.id, d.id), 404, "dentryNotExist")
    assert names(st.list_dentries(space.id)) == ["other"]
    assert [x.id for x in st.list_all(space.id)] == [other.id]
    items = st.get_dentries(space.id, [file.id, folder.id, other.id])
    assert [i.success for i in items] == [False, False, True]
    assert st.add_folder(space.id, "empty").name == "empty"  # the name is free again


def test_a_folder_with_children_goes_async(st: Storage) -> None:
    """Copy, move and delete of a folder with children answer ``async`` with a task (spec
    §1.11); what the task engine then does is tests/api/test_bulk.py's subject. An empty
    folder's are synchronous (above)."""
    space, dst = st.new_space(), st.new_space()
    parent = st.add_folder(space.id, "parent")
    st.add_folder(space.id, "child", parent.id)
    st.upload(space.id, b"x" * 5, "f.txt", parent_id=parent.id)

    copied = st.copy(space.id, parent.id, dst.id)
    assert copied.async_ is True and copied.task_id
    assert (copied.dentry.name, copied.dentry.space_id) == ("parent", dst.id)
    assert st.wait_task(copied.task_id).status == "SUCCESS"
    expected = ["/parent", "/parent/child", "/parent/f.txt"]
    assert sorted(x.path for x in st.list_all(dst.id)) == expected
    assert (st.used_quota(space.id), st.used_quota(dst.id)) == (5, 5)

    deleted = st.delete(dst.id, copied.dentry.id)
    assert deleted.async_ is True and deleted.task_id
    assert st.list_all(dst.id) == []  # gone from listings at once
    assert st.wait_task(deleted.task_id).status == "SUCCESS"
    assert st.used_quota(dst.id) == 0
    assert sorted(x.path for x in st.list_all(space.id)) == expected
