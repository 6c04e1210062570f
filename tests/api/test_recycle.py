"""The recycle bin (spec §6 H, ops 27 to 34) through the official SDK: GetRecycleBin,
ListRecycleItems, GetRecycleItem, RestoreRecycleItem(s), DeleteRecycleItem(s) and
ClearRecycleBin — shapes and errors, restore conflicts and lost folders, nested items, and exact
quotas and blob references through delete → restore → purge (docs/recycle-bin.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from dingstore.clock import now_ms
from dingstore.store.schema import dentry_versions, recycle_items
from tests import polling
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.engine import trees
from tests.live import LiveServer, Sdk
from tests.storage import Storage

MISSING = "424242"


@pytest.fixture
def bin_id(st: Storage, tenant: Tenant) -> str:
    return str(st.get_recycle_bin(tenant.corp_id).id)


def fails(call: Callable[[], object], status: int, code: str) -> None:
    err = sdk_error(call)
    assert (err.statusCode, err.code) == (status, code), err.data


def item_of(st: Storage, bin_id: str, dentry_id: str) -> Any:
    """The bin's item of a dentry."""
    return next(i for i in st.recycle_items(bin_id) if i.dentry_id == dentry_id)


def tree_of(st: Storage, space_id: str) -> list[tuple[str, str, int | None]]:
    return sorted((d.path, d.type, d.size) for d in st.list_all(space_id))


def settle(server: LiveServer) -> None:
    """Wait for every task to end, then check the whole store: tree, sizes, quotas, blob
    references, no DELETED row outside the bin, no task leftovers (tests/engine/trees.py)."""
    db = server.services.db
    polling.until(
        lambda: all(
            r.status in ("SUCCESS", "FAIL") for r in server.run(trees.task_rows(db)).values()
        ),
        timeout=30,
        what="every task's end",
    )
    assert server.run(trees.problems(db)) == []


def blobs_of(server: LiveServer, *dentry_ids: str) -> list[int]:
    """The blobs of every version of the files."""
    services = server.services
    v = dentry_versions

    async def read() -> list[int]:
        async with services.db.read() as conn:
            stmt = sa.select(v.c.blob_id).where(v.c.dentry_id.in_([int(i) for i in dentry_ids]))
            return sorted(int(b) for b in (await conn.execute(stmt)).scalars())

    return server.run(read())


def refcounts(server: LiveServer, blob_ids: list[int]) -> list[int]:
    found = server.run(trees.blob_refcounts(server.services.db, blob_ids))
    return [found[b] for b in blob_ids]


def epoch_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()) * 1000


# --- GetRecycleBin, ListRecycleItems, GetRecycleItem ----------------------------------------


def test_the_bin_and_its_items(st: Storage, tenant: Tenant, bin_id: str) -> None:
    recycle_bin = st.get_recycle_bin(tenant.corp_id)
    assert (recycle_bin.id, recycle_bin.scope, recycle_bin.scope_id) == (
        bin_id, "ORG", tenant.corp_id,
    )  # fmt: skip
    space = st.new_space()
    docs = st.add_folder(space.id, "docs")
    file = st.upload(space.id, b"x" * 10, "a.txt", docs.id)
    st.upload(space.id, b"y" * 4, "a.txt", docs.id, conflict_strategy="OVERWRITE")
    sub = st.add_folder(space.id, "sub", docs.id)
    st.upload(space.id, b"z" * 7, "b.txt", sub.id)
    assert st.recycle_items(bin_id) == []

    began = now_ms() // 1000 * 1000
    st.delete(space.id, file.id, to_recycle_bin=True)
    st.delete(space.id, sub.id, to_recycle_bin=True)
    listed = st.recycle_items(bin_id)
    assert [i.dentry_id for i in listed] == [sub.id, file.id]  # newest first
    folder_item, file_item = listed
    assert (file_item.type, file_item.original_name, file_item.original_path) == (
        "FILE", "a.txt", "/docs/a.txt",
    )  # fmt: skip
    # size: every stored version of it (and under it), what it keeps in the quota
    assert (file_item.space_id, file_item.size, file_item.operator_id) == (
        space.id, 14, st.union_id,
    )  # fmt: skip
    assert (folder_item.type, folder_item.original_name, folder_item.original_path) == (
        "FOLDER", "sub", "/docs/sub",
    )  # fmt: skip
    assert folder_item.size == 7
    assert began <= epoch_ms(file_item.operator_time) <= now_ms()
    raw = st.raw_ok("GET", f"/recycleBins/{bin_id}/recycleItems")
    assert set(raw) == {"recycleItems"}  # one page: no nextToken
    assert set(raw["recycleItems"][0]) == {
        "id", "spaceId", "dentryId", "size", "type", "originalName", "originalPath",
        "operatorId", "operatorTime",
    }  # fmt: skip
    assert st.get_recycle_item(bin_id, file_item.id).to_map() == file_item.to_map()
    assert st.used_quota(space.id) == 21  # recycled bytes count until purged

    # Another org has a bin of its own, and sees nothing of this one.
    other_tenant = new_tenant(st.server, st.sdk)
    other = Storage.of(st.server, st.sdk, other_tenant)
    other_bin = other.get_recycle_bin(other_tenant.corp_id).id
    assert other_bin != bin_id and other.recycle_items(other_bin) == []
    fails(lambda: other.recycle_items(bin_id), 404, "recycleBinNotExist")
    fails(lambda: other.get_recycle_item(other_bin, file_item.id), 404, "recycleItemNotExist")
    fails(lambda: other.get_recycle_bin(tenant.corp_id), 404, "recycleBinNotExist")


def test_bin_and_item_errors(st: Storage, tenant: Tenant, bin_id: str) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"x", "a.txt")
    st.delete(space.id, file.id, to_recycle_bin=True)
    item = item_of(st, bin_id, file.id)
    fails(lambda: st.get_recycle_bin(tenant.corp_id, scope=None), 400, "paramError.recycleBinScope")
    fails(
        lambda: st.get_recycle_bin(tenant.corp_id, scope="SPACE"), 400, "paramError.recycleBinScope"
    )
    fails(lambda: st.get_recycle_bin(None), 400, "paramError.scopeId")
    fails(lambda: st.get_recycle_bin("dingnobody"), 404, "recycleBinNotExist")
    for bad, code in (("bin!", "paramError.recycleBinId"), (MISSING, "recycleBinNotExist")):
        status = 400 if code.startswith("param") else 404
        fails(lambda b=bad: st.recycle_items(b), status, code)
        fails(lambda b=bad: st.get_recycle_item(b, item.id), status, code)
        fails(lambda b=bad: st.restore_recycle_item(b, item.id), status, code)
        fails(lambda b=bad: st.restore_recycle_items(b, [item.id]), status, code)
        fails(lambda b=bad: st.delete_recycle_item(b, item.id), status, code)
        fails(lambda b=bad: st.delete_recycle_items(b, [item.id]), status, code)
        fails(lambda b=bad: st.clear_recycle_bin(b), status, code)
    for call in (st.get_recycle_item, st.restore_recycle_item, st.delete_recycle_item):
        fails(lambda c=call: c(bin_id, MISSING), 404, "recycleItemNotExist")
        fails(lambda c=call: c(bin_id, "item-1"), 400, "paramError.recycleItemId")
    fails(lambda: st.restore_recycle_item(bin_id, item.id, conflict_strategy="KEEP"), 400,
          "paramError.conflictStrategy")  # fmt: skip
    for n in (0, 51):
        fails(lambda n=n: st.recycle_page(bin_id, max_results=n), 400, "paramError.maxResults")
    fails(lambda: st.recycle_page(bin_id, next_token="bogus"), 400, "paramError.nextToken")
    # Nothing changed.
    assert [i.to_map() for i in st.recycle_items(bin_id)] == [item.to_map()]
    assert st.list_all(space.id) == [] and st.used_quota(space.id) == 1


def test_scopes_and_raw_inputs(
    server: LiveServer, sdk: Sdk, st: Storage, tenant: Tenant, bin_id: str
) -> None:
    """Reading the bin needs Storage.RecycleBin.Read, changing it Storage.RecycleBin.Write
    (spec §1.13); what the SDK would never send answers its parameter's code."""
    space = st.new_space()
    file = st.upload(space.id, b"x", "a.txt")
    st.delete(space.id, file.id, to_recycle_bin=True)
    item = item_of(st, bin_id, file.id).id
    creds = server.run(
        server.services.identity.create_app(tenant.corp_id, "reads", ("Storage.RecycleBin.Read",))
    )
    assert creds.app.app_key is not None
    token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token
    reader = Storage(server, sdk, token, st.union_id)
    assert [i.id for i in reader.recycle_items(bin_id)] == [item]
    assert reader.get_recycle_item(bin_id, item).id == item
    for call in (
        lambda: reader.restore_recycle_item(bin_id, item),
        lambda: reader.restore_recycle_items(bin_id, [item]),
        lambda: reader.delete_recycle_item(bin_id, item),
        lambda: reader.delete_recycle_items(bin_id, [item]),
        lambda: reader.clear_recycle_bin(bin_id),
    ):
        err = sdk_error(call)
        assert (err.statusCode, err.code) == (
            403, "Forbidden.AccessDenied.AccessTokenPermissionDenied",
        )  # fmt: skip
        assert err.accessDeniedDetail == {"requiredScopes": ["Storage.RecycleBin.Write"]}

    items = f"/recycleBins/{bin_id}/recycleItems"
    for params in ({"maxResults": "many"}, {"maxResults": "51"}):
        response = st.raw("GET", items, params=params)
        assert (response.status_code, response.json()["code"]) == (400, "paramError.maxResults")
    for path in (f"{items}/batchRestore", f"{items}/batchRemove"):
        for body in (None, {}, {"recycleItemIds": "1"}, {"recycleItemIds": [1]}):
            response = st.raw("POST", path, json=body)
            code = "Missingbody" if body is None else "paramError.recycleItemIds"
            assert (response.status_code, response.json()["code"]) == (400, code), (path, body)
    assert [i.id for i in st.recycle_items(bin_id)] == [item]  # nothing changed
    assert st.raw_ok("POST", f"{items}/{item}/restore") == {  # no body: the defaults
        "async": False, "spaceId": space.id, "dentryId": file.id,
    }  # fmt: skip


def test_items_page_newest_first(st: Storage, bin_id: str) -> None:
    space = st.new_space()
    files = [st.upload(space.id, bytes(n), f"f{n}.txt") for n in range(7)]
    for f in files:
        st.delete(space.id, f.id, to_recycle_bin=True)
    pages = []
    token = None
    while True:
        page = st.recycle_page(bin_id, next_token=token, max_results=3)
        pages.append([i.dentry_id for i in page.recycle_items])
        token = page.next_token
        if not token:
            break
    newest_first = [f.id for f in reversed(files)]
    assert pages == [newest_first[:3], newest_first[3:6], newest_first[6:]]
    assert [i.dentry_id for i in st.recycle_items(bin_id)] == newest_first


def test_items_page_size_defaults_to_and_stops_at_50(st: Storage, bin_id: str) -> None:
    """maxResults: default 50, at most 50 (spec §1.9), so 51 items take two pages either way."""
    space = st.new_space()
    for n in range(51):
        st.delete(space.id, st.add_folder(space.id, f"d{n}").id, to_recycle_bin=True)
    for size in (None, 50):
        first = st.recycle_page(bin_id, max_results=size)
        assert len(first.recycle_items) == 50 and first.next_token
        last = st.recycle_page(bin_id, next_token=first.next_token, max_results=size)
        assert len(last.recycle_items) == 1 and not last.next_token


# --- RestoreRecycleItem(s) ------------------------------------------------------------------


def test_restore_round_trip_keeps_quota_and_blobs_exact(
    server: LiveServer, st: Storage, bin_id: str
) -> None:
    space = st.new_space()
    a = st.upload(space.id, b"a" * 100, "a.txt")
    st.upload(space.id, b"b" * 30, "a.txt", conflict_strategy="OVERWRITE")
    docs = st.add_folder(space.id, "docs")
    c = st.upload(space.id, b"c" * 50, "c.txt", docs.id)
    sub = st.add_folder(space.id, "sub", docs.id)
    d = st.upload(space.id, b"d" * 20, "d.txt", sub.id)
    st.copy(space.id, c.id, space.id)  # /c.txt shares c's blob
    before = tree_of(st, space.id)
    blobs = blobs_of(server, a.id, c.id, d.id)
    assert refcounts(server, blobs) == [1, 1, 2, 1]
    assert st.used_quota(space.id) == 250

    assert st.delete(space.id, a.id, to_recycle_bin=True).async_ is False
    assert st.delete(space.id, docs.id, to_recycle_bin=True).async_ is True
    assert tree_of(st, space.id) == [("/c.txt", "FILE", 50)]
    assert st.used_quota(space.id) == 250 and refcounts(server, blobs) == [1, 1, 2, 1]

    a_item = item_of(st, bin_id, a.id).id
    restored = st.restore_recycle_item(bin_id, a_item)
    assert (restored.async_, restored.task_id) == (False, None)
    assert (restored.space_id, restored.dentry_id) == (space.id, a.id)
    assert [v.version for v in st.versions(space.id, a.id)] == [2, 1]
    assert st.download(space.id, a.id) == b"b" * 30
    folder = st.restore_recycle_item(bin_id, item_of(st, bin_id, docs.id).id)
    assert folder.async_ is True and folder.task_id
    assert (folder.space_id, folder.dentry_id) == (space.id, docs.id)
    task = st.wait_task(folder.task_id)
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "SUCCESS", 4, 4, 0,
    )  # fmt: skip
    assert tree_of(st, space.id) == before and st.recycle_items(bin_id) == []
    assert st.used_quota(space.id) == 250 and refcounts(server, blobs) == [1, 1, 2, 1]
    fails(lambda: st.restore_recycle_item(bin_id, a_item), 404, "recycleItemNotExist")

    # To the bin again, and purged for good: the quota and the references go.
    st.delete(space.id, a.id, to_recycle_bin=True)
    st.delete(space.id, docs.id, to_recycle_bin=True)
    assert st.delete_recycle_item(bin_id, item_of(st, bin_id, a.id).id).success is True
    assert st.used_quota(space.id) == 120 and refcounts(server, blobs) == [0, 0, 2, 1]
    assert st.delete_recycle_item(bin_id, item_of(st, bin_id, docs.id).id).success is True
    assert st.recycle_items(bin_id) == []  # at once; the task purges the folder's content
    settle(server)
    assert st.used_quota(space.id) == 50 and refcounts(server, blobs) == [0, 0, 1, 0]
    assert tree_of(st, space.id) == [("/c.txt", "FILE", 50)]


def test_restore_conflict_strategies(server: LiveServer, st: Storage, bin_id: str) -> None:
    space = st.new_space()
    old = st.upload(space.id, b"old", "a.txt")
    st.delete(space.id, old.id, to_recycle_bin=True)
    new = st.upload(space.id, b"newer", "a.txt")
    item = item_of(st, bin_id, old.id)

    def restore(how: str | None) -> Any:
        return st.restore_recycle_item(bin_id, item.id, conflict_strategy=how)

    fails(lambda: restore("RETURN_ERROR_IF_EXISTS"), 400, "dentryAlreadyExist")
    kept = restore("RETURN_DENTRY_IF_EXISTS")  # the entry there; the item stays in the bin
    assert (kept.async_, kept.dentry_id) == (False, new.id)
    assert [i.id for i in st.recycle_items(bin_id)] == [item.id]
    # OVERWRITE: the item takes its name back; the entry holding it goes to the bin instead.
    assert restore("OVERWRITE").dentry_id == old.id
    assert st.download(space.id, old.id) == b"old"
    assert [(x.name, x.id) for x in st.list_all(space.id)] == [("a.txt", old.id)]
    displaced = item_of(st, bin_id, new.id)
    assert (displaced.original_path, displaced.size) == ("/a.txt", 5)
    # AUTO_RENAME (the default): the first free name.
    renamed = st.restore_recycle_item(bin_id, displaced.id)
    assert st.get_dentry(space.id, renamed.dentry_id).name == "a(1).txt"
    assert st.used_quota(space.id) == 8

    # Folders: OVERWRITE sends the folder there to the bin, contents and all; a file and a
    # folder never overwrite each other.
    gone = st.add_folder(space.id, "docs")
    st.upload(space.id, b"1", "one.txt", gone.id)
    st.delete(space.id, gone.id, to_recycle_bin=True)
    there = st.add_folder(space.id, "docs")
    st.upload(space.id, b"22", "two.txt", there.id)
    gone_item = item_of(st, bin_id, gone.id).id
    back = st.restore_recycle_item(bin_id, gone_item, conflict_strategy="OVERWRITE")
    assert back.async_ is True and st.wait_task(back.task_id).total_count == 2
    assert [p for p, _, _ in tree_of(st, space.id) if p.startswith("/docs")] == [
        "/docs", "/docs/one.txt",
    ]  # fmt: skip
    assert item_of(st, bin_id, there.id).original_path == "/docs"
    st.delete(space.id, old.id, to_recycle_bin=True)
    st.add_folder(space.id, "a.txt")  # a folder holds the name of a file in the bin
    old_item = item_of(st, bin_id, old.id).id
    fails(lambda: st.restore_recycle_item(bin_id, old_item, conflict_strategy="OVERWRITE"),
          400, "dentryAlreadyExist")  # fmt: skip
    assert st.used_quota(space.id) == 11
    settle(server)


def test_restore_follows_its_folder_or_goes_to_the_root(
    server: LiveServer, st: Storage, bin_id: str
) -> None:
    """An item restores into its original folder wherever that folder now is in the space; when
    the folder is in the bin, or under a folder in the bin, into the space's root."""
    space = st.new_space()
    p, q = st.add_folder(space.id, "p"), st.add_folder(space.id, "q")
    f = st.upload(space.id, b"f", "f.txt", p.id)
    g = st.upload(space.id, b"gg", "g.txt", p.id)
    st.delete(space.id, f.id, to_recycle_bin=True)
    st.move(space.id, p.id, space.id, q.id)
    back = st.restore_recycle_item(bin_id, item_of(st, bin_id, f.id).id)
    assert st.get_dentry(space.id, back.dentry_id).path == "/q/p/f.txt"

    st.delete(space.id, g.id, to_recycle_bin=True)
    st.delete(space.id, p.id, to_recycle_bin=True)  # g's folder is in the bin now
    st.restore_recycle_item(bin_id, item_of(st, bin_id, g.id).id)
    assert st.get_dentry(space.id, g.id).path == "/g.txt"
    st.restore_recycle_item(bin_id, item_of(st, bin_id, p.id).id)
    assert tree_of(st, space.id) == [
        ("/g.txt", "FILE", 2), ("/q", "FOLDER", None), ("/q/p", "FOLDER", None),
        ("/q/p/f.txt", "FILE", 1),
    ]  # fmt: skip

    st.delete(space.id, f.id, to_recycle_bin=True)
    st.delete(space.id, q.id, to_recycle_bin=True)  # f's folder lies under a folder in the bin
    st.restore_recycle_item(bin_id, item_of(st, bin_id, f.id).id)
    assert st.get_dentry(space.id, f.id).path == "/f.txt"
    st.restore_recycle_item(bin_id, item_of(st, bin_id, q.id).id)
    assert tree_of(st, space.id) == [
        ("/f.txt", "FILE", 1), ("/g.txt", "FILE", 2), ("/q", "FOLDER", None),
        ("/q/p", "FOLDER", None),
    ]  # fmt: skip
    assert st.used_quota(space.id) == 3
    settle(server)


def test_restore_many(server: LiveServer, st: Storage, bin_id: str) -> None:
    space = st.new_space()
    f = st.upload(space.id, b"f", "f.txt")
    d = st.add_folder(space.id, "d")
    st.upload(space.id, b"in", "in.txt", d.id)
    g = st.upload(space.id, b"g", "g.txt")
    for x in (f, d, g):
        st.delete(space.id, x.id, to_recycle_bin=True)
    st.add_folder(space.id, "g.txt")  # g's name is taken
    items = {x.id: item_of(st, bin_id, x.id).id for x in (f, d, g)}
    before = [i.to_map() for i in st.recycle_items(bin_id)]

    def restore(ids: Any, how: str | None = None) -> Any:
        return st.restore_recycle_items(bin_id, ids, conflict_strategy=how)

    for ids in (None, [], [items[f.id]] * 31, [items[f.id], "x1"]):
        fails(lambda ids=ids: restore(ids), 400, "paramError.recycleItemIds")
    fails(lambda: restore([items[f.id]], "KEEP"), 400, "paramError.conflictStrategy")
    assert [i.to_map() for i in st.recycle_items(bin_id)] == before  # nothing changed

    asked = [items[f.id], items[d.id], MISSING, items[g.id]]
    results = restore(asked, "RETURN_ERROR_IF_EXISTS")
    assert [r.recycle_item_id for r in results] == asked
    assert {r.recycle_bin_id for r in results} == {bin_id}
    done, folder, missing, clash = results
    assert (done.async_, done.success, done.error_code, done.task_id) == (False, True, None, None)
    assert (done.space_id, done.dentry_id) == (space.id, f.id)
    assert (folder.async_, folder.success, folder.error_code) == (True, None, None)
    assert (folder.space_id, folder.dentry_id) == (space.id, d.id) and folder.task_id
    for failed, code in ((missing, "recycleItemNotExist"), (clash, "dentryAlreadyExist")):
        assert (failed.async_, failed.success, failed.error_code) == (False, False, code)
        assert (failed.space_id, failed.dentry_id, failed.task_id) == (None, None, None)
    task = st.wait_task(folder.task_id)
    assert (task.status, task.total_count, task.success_count) == ("SUCCESS", 2, 2)
    assert [i.dentry_id for i in st.recycle_items(bin_id)] == [g.id]
    assert sorted(p for p, _, _ in tree_of(st, space.id)) == ["/d", "/d/in.txt", "/f.txt", "/g.txt"]
    settle(server)


def test_batch_limits_take_30_restores_and_50_purges(st: Storage, bin_id: str) -> None:
    """The limits are inclusive: 30 ids to restore and 50 to purge pass the parameter check
    (and fail, here, on the items themselves); one more is ``paramError.recycleItemIds``."""
    results = st.restore_recycle_items(bin_id, [MISSING] * 30)
    assert [r.error_code for r in results] == ["recycleItemNotExist"] * 30
    fails(lambda: st.restore_recycle_items(bin_id, [MISSING] * 31), 400,
          "paramError.recycleItemIds")  # fmt: skip
    fails(lambda: st.delete_recycle_items(bin_id, [MISSING] * 50), 404, "recycleItemNotExist")
    fails(lambda: st.delete_recycle_items(bin_id, [MISSING] * 51), 400,
          "paramError.recycleItemIds")  # fmt: skip


# --- DeleteRecycleItem(s), ClearRecycleBin --------------------------------------------------


def test_purge_errors_change_nothing(st: Storage, bin_id: str) -> None:
    space = st.new_space()
    files = [st.upload(space.id, b"x" * (n + 1), f"{n}.txt") for n in range(3)]
    for f in files:
        st.delete(space.id, f.id, to_recycle_bin=True)
    ids = [item_of(st, bin_id, f.id).id for f in files]
    for bad in (None, [], ids * 17, [ids[0], "nope"]):
        fails(lambda b=bad: st.delete_recycle_items(bin_id, b), 400, "paramError.recycleItemIds")
    fails(lambda: st.delete_recycle_items(bin_id, [ids[0], MISSING]), 404, "recycleItemNotExist")
    assert len(st.recycle_items(bin_id)) == 3 and st.used_quota(space.id) == 6
    assert st.delete_recycle_items(bin_id, ids[:2]).success is True
    assert [i.id for i in st.recycle_items(bin_id)] == ids[2:]
    assert st.used_quota(space.id) == 3
    fails(lambda: st.delete_recycle_item(bin_id, ids[0]), 404, "recycleItemNotExist")


def test_nested_items_purge_in_either_order(server: LiveServer, st: Storage, bin_id: str) -> None:
    """An entry recycled before its folder was is an item inside another: purging the outer one
    takes the inner one with it; purging the inner one first leaves the outer one whole."""
    for outer_first in (True, False):
        space = st.new_space()
        outer = st.add_folder(space.id, "outer")
        keep = st.upload(space.id, b"k" * 3, "keep.txt", outer.id)
        mid = st.add_folder(space.id, "mid", outer.id)
        inner = st.upload(space.id, b"i" * 5, "inner.txt", mid.id)
        st.upload(space.id, b"m" * 7, "m.txt", mid.id)
        inner_blobs = blobs_of(server, inner.id)
        for x in (inner, mid, outer):
            st.delete(space.id, x.id, to_recycle_bin=True)
        assert [i.dentry_id for i in st.recycle_items(bin_id)] == [outer.id, mid.id, inner.id]
        assert [i.size for i in st.recycle_items(bin_id)] == [3, 7, 5]
        assert st.used_quota(space.id) == 15
        if outer_first:
            st.delete_recycle_item(bin_id, item_of(st, bin_id, outer.id).id)
            assert st.recycle_items(bin_id) == []
        else:
            st.delete_recycle_item(bin_id, item_of(st, bin_id, inner.id).id)
            assert st.used_quota(space.id) == 10 and refcounts(server, inner_blobs) == [0]
            st.delete_recycle_item(bin_id, item_of(st, bin_id, mid.id).id)
            settle(server)
            assert st.used_quota(space.id) == 3
            st.restore_recycle_item(bin_id, item_of(st, bin_id, outer.id).id)
            assert tree_of(st, space.id) == [("/outer", "FOLDER", None),
                                             ("/outer/keep.txt", "FILE", 3)]  # fmt: skip
            st.delete(space.id, keep.id, to_recycle_bin=True)
            st.delete(space.id, outer.id, to_recycle_bin=True)
            st.delete_recycle_items(bin_id, [i.id for i in st.recycle_items(bin_id)])
        settle(server)
        assert st.used_quota(space.id) == 0 and refcounts(server, inner_blobs) == [0]
        assert st.list_all(space.id) == [] and st.recycle_items(bin_id) == []


def test_clear_the_bin(server: LiveServer, st: Storage, bin_id: str) -> None:
    assert st.clear_recycle_bin(bin_id).success is True  # an empty bin too
    spaces = [st.new_space(), st.new_space()]
    kept = []
    for space in spaces:
        top = st.add_folder(space.id, "top")
        inner = st.upload(space.id, b"i" * 4, "i.txt", top.id)
        st.upload(space.id, b"j" * 6, "j.txt", top.id)
        st.delete(space.id, inner.id, to_recycle_bin=True)
        st.delete(space.id, top.id, to_recycle_bin=True)
        loose = st.upload(space.id, b"l" * 2, "l.txt")
        st.delete(space.id, loose.id, to_recycle_bin=True)
        st.delete(space.id, st.add_folder(space.id, "empty").id, to_recycle_bin=True)
        kept.append(st.upload(space.id, b"kept", "kept.txt"))
    assert len(st.recycle_items(bin_id)) == 8
    assert [st.used_quota(s.id) for s in spaces] == [16, 16]
    assert st.raw_ok("POST", f"/recycleBins/{bin_id}/clear") == {"success": True}  # no body
    assert st.recycle_items(bin_id) == []
    settle(server)
    assert [st.used_quota(s.id) for s in spaces] == [4, 4]
    assert [tree_of(st, s.id) for s in spaces] == [[("/kept.txt", "FILE", 4)]] * 2


def test_a_permanent_delete_takes_the_recycled_entries_under_it(
    server: LiveServer, st: Storage, bin_id: str
) -> None:
    space = st.new_space()
    only = st.add_folder(space.id, "only-recycled-inside")
    st.delete(space.id, st.upload(space.id, b"x" * 9, "x.txt", only.id).id, to_recycle_bin=True)
    mixed = st.add_folder(space.id, "mixed")
    st.upload(space.id, b"y" * 5, "y.txt", mixed.id)
    sub = st.add_folder(space.id, "sub", mixed.id)
    st.upload(space.id, b"z" * 3, "z.txt", sub.id)
    st.delete(space.id, sub.id, to_recycle_bin=True)
    assert len(st.recycle_items(bin_id)) == 2 and st.used_quota(space.id) == 17
    for folder, total in ((only, 2), (mixed, 4)):
        result = st.delete(space.id, folder.id)  # what it holds is all in the bin: still a task
        assert result.async_ is True
        task = st.wait_task(result.task_id)
        assert (task.status, task.total_count) == ("SUCCESS", total)
    assert st.recycle_items(bin_id) == [] and st.used_quota(space.id) == 0
    settle(server)


# --- across spaces, retention, held subtrees -----------------------------------------------


def test_a_move_across_spaces_takes_recycled_entries_along(
    server: LiveServer, st: Storage, bin_id: str
) -> None:
    source, target = st.new_space(), st.new_space()
    p = st.add_folder(source.id, "p")
    st.upload(source.id, b"l" * 10, "l.txt", p.id)
    r = st.upload(source.id, b"r" * 20, "r.txt", p.id)
    s = st.add_folder(source.id, "s", p.id)
    st.upload(source.id, b"t" * 30, "t.txt", s.id)
    u = st.upload(source.id, b"u" * 5, "u.txt", s.id)
    for x in (r, u, s):
        st.delete(source.id, x.id, to_recycle_bin=True)
    assert st.used_quota(source.id) == 65
    small = st.new_space(quota=64)  # room for the live 10 bytes, not for the 55 in the bin
    fails(lambda: st.move(source.id, p.id, small.id), 400, "spaceQuotaInsufficient")

    moved = st.move(source.id, p.id, target.id)
    assert moved.async_ is True
    assert st.wait_task(moved.task_id).total_count == 6  # p, l, r, s, t, u
    assert (st.used_quota(source.id), st.used_quota(target.id)) == (0, 65)
    assert {i.space_id for i in st.recycle_items(bin_id)} == {target.id}
    back = st.restore_recycle_item(bin_id, item_of(st, bin_id, r.id).id)
    assert back.space_id == target.id
    assert st.get_dentry(target.id, r.id).path == "/p/r.txt"
    st.delete_recycle_item(bin_id, item_of(st, bin_id, s.id).id)
    assert st.recycle_items(bin_id) == []  # u's item went with s's
    settle(server)
    assert (st.used_quota(source.id), st.used_quota(target.id)) == (0, 30)

    # A folder whose content is all in the bin moves async too, its content with it.
    e = st.add_folder(target.id, "e")
    st.delete(target.id, st.upload(target.id, b"h" * 8, "h.txt", e.id).id, to_recycle_bin=True)
    result = st.move(target.id, e.id, source.id)
    assert result.async_ is True and st.wait_task(result.task_id).total_count == 2
    assert (st.used_quota(source.id), st.used_quota(target.id)) == (8, 30)
    assert [i.space_id for i in st.recycle_items(bin_id)] == [source.id]
    settle(server)


def test_items_past_their_retention_are_purged(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(recycle_retention_days=1)
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    st = Storage.of(server, sdk, tenant)
    bin_id = st.get_recycle_bin(tenant.corp_id).id
    space = st.new_space()
    old = st.add_folder(space.id, "old")
    st.upload(space.id, b"o" * 6, "o.txt", old.id)
    fresh = st.upload(space.id, b"f" * 3, "f.txt")
    for x in (old, fresh):
        st.delete(space.id, x.id, to_recycle_bin=True)
    services = server.services
    aged = item_of(st, bin_id, old.id).id

    async def backdate() -> None:
        async with services.db.write() as conn:
            await conn.execute(
                sa.update(recycle_items)
                .where(recycle_items.c.id == int(aged))
                .values(operator_time=now_ms() - 2 * 86_400_000)
            )

    server.run(backdate())
    assert server.run(services.housekeeper.sweep())["recycle_items"] == 1
    assert [i.dentry_id for i in st.recycle_items(bin_id)] == [fresh.id]
    settle(server)
    assert st.used_quota(space.id) == 3


def test_items_inside_a_held_subtree_wait(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(workers=0)  # nothing runs the tasks: what they hold stays held
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    st = Storage.of(server, sdk, tenant)
    bin_id = st.get_recycle_bin(tenant.corp_id).id
    space, other = st.new_space(), st.new_space()
    top = st.add_folder(space.id, "top")
    st.upload(space.id, b"a", "a.txt", top.id)
    z = st.upload(space.id, b"z", "z.txt", top.id)
    st.delete(space.id, z.id, to_recycle_bin=True)
    item = item_of(st, bin_id, z.id)
    copying = st.copy(space.id, top.id, other.id)
    for attempt in (
        lambda: st.restore_recycle_item(bin_id, item.id),
        lambda: st.delete_recycle_item(bin_id, item.id),
        lambda: st.delete_recycle_items(bin_id, [item.id]),
        lambda: st.clear_recycle_bin(bin_id),
    ):
        err = sdk_error(attempt)
        assert (err.statusCode, err.code) == (400, "operationConcurrentControl")
        assert copying.task_id in err.data["message"]
    [result] = st.restore_recycle_items(bin_id, [item.id])
    assert (result.success, result.error_code) == (False, "operationConcurrentControl")
    assert [i.to_map() for i in st.recycle_items(bin_id)] == [item.to_map()]

    # A folder item with content leaves the bin at once; its purge waits for a worker.
    gone = st.add_folder(space.id, "gone")
    st.upload(space.id, b"g", "g.txt", gone.id)
    st.delete(space.id, gone.id, to_recycle_bin=True)
    gone_item = item_of(st, bin_id, gone.id)
    assert st.delete_recycle_item(bin_id, gone_item.id).success is True
    fails(lambda: st.get_recycle_item(bin_id, gone_item.id), 404, "recycleItemNotExist")
