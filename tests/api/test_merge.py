"""OVERWRITE of a folder with children onto a folder of the same name merges the two, through
the task engine: folders meeting folders merge, a copied file meeting a file becomes its new
version, a moved file meeting a file replaces it, a file meeting a folder (or the reverse) fails
``dentryAlreadyExist`` with its subtree, and everything else goes in as it is."""

from __future__ import annotations

from tests.conftest import sdk_error
from tests.storage import Storage


def make(st: Storage, space_id: str, layout: dict[str, object], parent_id: str = "0") -> None:
    """Build ``layout`` (name → bytes for a file, dict for a folder) under ``parent_id``."""
    for name, value in layout.items():
        if isinstance(value, bytes):
            st.upload(space_id, value, name, parent_id)
        else:
            assert isinstance(value, dict)
            make(st, space_id, value, st.add_folder(space_id, name, parent_id).id)


def contents(st: Storage, space_id: str) -> dict[str, bytes | None]:
    """Path → bytes of every file (None for a folder)."""
    return {
        d.path: st.download(space_id, d.id) if d.type == "FILE" else None
        for d in st.list_all(space_id)
    }


def by_path(st: Storage, space_id: str) -> dict[str, str]:
    return {d.path: d.id for d in st.list_all(space_id)}


def test_copy_merges_into_the_folder_of_the_same_name(st: Storage) -> None:
    source, target = st.new_space(), st.new_space()
    make(st, source.id, {"top": {
        "a.txt": b"new a",
        "keep": {"x.txt": b"x"},
        "sub": {"b.txt": b"b", "deep": {"c.txt": b"c"}},
        "clash": {"y.txt": b"y"},
    }})  # fmt: skip
    make(st, target.id, {"top": {
        "a.txt": b"old a",
        "sub": {"b.txt": b"old b", "mine.txt": b"m"},
        "clash": b"i am a file",
        "other": {},
    }})  # fmt: skip
    before_source = contents(st, source.id)
    ids = by_path(st, target.id)

    result = st.copy(
        source.id, by_path(st, source.id)["/top"], target.id, conflict_strategy="OVERWRITE"
    )
    assert result.async_ is True and result.task_id
    assert (result.dentry.id, result.dentry.name) == (ids["/top"], "top")
    task = st.wait_task(result.task_id)
    # top, a.txt, keep, x.txt, sub, b.txt, deep, c.txt merge or copy; clash and y.txt fail
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "FAIL", 10, 8, 2,
    )  # fmt: skip
    assert task.fail_message == "dentryAlreadyExist"

    assert contents(st, target.id) == {
        "/top": None,
        "/top/a.txt": b"new a",
        "/top/keep": None,
        "/top/keep/x.txt": b"x",
        "/top/sub": None,
        "/top/sub/b.txt": b"b",
        "/top/sub/mine.txt": b"m",
        "/top/sub/deep": None,
        "/top/sub/deep/c.txt": b"c",
        "/top/clash": b"i am a file",
        "/top/other": None,
    }
    after = by_path(st, target.id)
    for kept in ("/top", "/top/a.txt", "/top/sub", "/top/sub/b.txt", "/top/clash", "/top/other"):
        assert after[kept] == ids[kept]  # merged into, not replaced
    a = after["/top/a.txt"]
    assert [v.version for v in st.versions(target.id, a)] == [2, 1]
    assert st.download(target.id, a, version=1) == b"old a"
    # old: 5 + 5 + 1 + 11; new versions and copies: 5 + 1 + 1 + 1
    assert st.used_quota(target.id) == 30
    assert contents(st, source.id) == before_source


def test_move_merges_and_removes_the_emptied_folder(st: Storage) -> None:
    space = st.new_space()
    make(st, space.id, {
        "src": {"top": {"a.txt": b"A2", "sub": {"b.txt": b"B2", "n.txt": b"n"}, "e": {}}},
        "dst": {"top": {"sub": {"b.txt": b"old B"}, "z.txt": b"z"}},
    })  # fmt: skip
    ids = by_path(st, space.id)
    assert st.used_quota(space.id) == 2 + 2 + 1 + 5 + 1

    result = st.move(
        space.id, ids["/src/top"], space.id, ids["/dst"], conflict_strategy="OVERWRITE"
    )
    assert result.async_ is True and result.dentry.id == ids["/dst/top"]
    task = st.wait_task(result.task_id)
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "SUCCESS", 6, 6, 0,
    )  # fmt: skip
    assert contents(st, space.id) == {
        "/src": None,
        "/dst": None,
        "/dst/top": None,
        "/dst/top/a.txt": b"A2",
        "/dst/top/e": None,
        "/dst/top/sub": None,
        "/dst/top/sub/b.txt": b"B2",
        "/dst/top/sub/n.txt": b"n",
        "/dst/top/z.txt": b"z",
    }
    after = by_path(st, space.id)
    assert after["/dst/top/sub/b.txt"] == ids["/src/top/sub/b.txt"]  # the moved file replaced it
    assert after["/dst/top/sub"] == ids["/dst/top/sub"]
    assert st.used_quota(space.id) == 2 + 2 + 1 + 1  # the replaced file is gone for good
    gone = sdk_error(lambda: st.get_dentry(space.id, ids["/src/top"]))
    assert (gone.statusCode, gone.code) == (404, "dentryNotExist")


def test_move_merge_across_spaces_leaves_what_failed(st: Storage) -> None:
    source, target = st.new_space(), st.new_space()
    make(st, source.id, {"top": {"f.txt": b"ff", "clash": {"g.txt": b"g"}, "d": {"h.txt": b"hh"}}})
    make(st, target.id, {"top": {"clash": b"c"}})
    ids = by_path(st, source.id)
    result = st.move(source.id, ids["/top"], target.id, conflict_strategy="OVERWRITE")
    task = st.wait_task(result.task_id)
    # top, f.txt, d, h.txt go; clash and g.txt fail and stay
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "FAIL", 6, 4, 2,
    )  # fmt: skip
    assert task.fail_message == "dentryAlreadyExist"
    assert contents(st, source.id) == {"/top": None, "/top/clash": None, "/top/clash/g.txt": b"g"}
    assert contents(st, target.id) == {
        "/top": None,
        "/top/clash": b"c",
        "/top/d": None,
        "/top/d/h.txt": b"hh",
        "/top/f.txt": b"ff",
    }
    assert by_path(st, target.id)["/top/d/h.txt"] == ids["/top/d/h.txt"]
    assert (st.used_quota(source.id), st.used_quota(target.id)) == (1, 1 + 2 + 2)


def test_a_merge_that_cannot_fit_is_refused(st: Storage) -> None:
    source, target = st.new_space(), st.new_space(quota=10)
    make(st, source.id, {"top": {"big.bin": b"x" * 20}})
    make(st, target.id, {"top": {"small.bin": b"y"}})
    top = by_path(st, source.id)["/top"]
    error = sdk_error(lambda: st.move(source.id, top, target.id, conflict_strategy="OVERWRITE"))
    assert (error.statusCode, error.code) == (400, "spaceQuotaInsufficient")
    assert contents(st, target.id) == {"/top": None, "/top/small.bin": b"y"}
    assert contents(st, source.id) == {"/top": None, "/top/big.bin": b"x" * 20}


def test_no_merge_into_an_ancestor_or_onto_itself(st: Storage) -> None:
    space = st.new_space()
    make(st, space.id, {"A": {"A": {"f.txt": b"f"}}})
    ids = by_path(st, space.id)
    for call in (st.copy, st.move):
        error = sdk_error(
            lambda call=call: call(space.id, ids["/A/A"], space.id, conflict_strategy="OVERWRITE")
        )
        assert (error.statusCode, error.code) == (400, "dentryAlreadyExist")
    same = st.copy(space.id, ids["/A"], space.id, conflict_strategy="OVERWRITE")
    assert (same.async_, same.task_id, same.dentry.id) == (False, None, ids["/A"])
    assert contents(st, space.id) == {"/A": None, "/A/A": None, "/A/A/f.txt": b"f"}
    assert [v.version for v in st.versions(space.id, ids["/A/A/f.txt"])] == [1]
