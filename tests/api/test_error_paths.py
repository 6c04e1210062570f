"""Documented parameter errors not pinned elsewhere: each answers its exact code and changes
nothing."""

from __future__ import annotations

import httpx
from alibabacloud_dingtalk.storage_1_0 import models as m

from tests.conftest import sdk_error
from tests.storage import Storage


def test_app_property_names_to_remove(st: Storage) -> None:
    space = st.new_space()
    doc = st.upload(space.id, b"x", "d.txt", app_properties=[("a", "1", "PUBLIC")])

    def remove(names: list[str]) -> object:
        request = m.DeleteDentryAppPropertiesRequest(union_id=st.union_id, property_names=names)
        return st._api.delete_dentry_app_properties_with_options(
            space.id, doc.id, request, st._h(m.DeleteDentryAppPropertiesHeaders), st._rt
        )

    for names in ([], ["a", "b", "c", "d"]):
        err = sdk_error(lambda n=names: remove(n))
        assert (err.statusCode, err.code) == (400, "paramError.propertyNames")
    assert [
        p["name"] for p in next(iter(st.raw_dentry(space.id, doc.id)["appProperties"].values()))
    ] == ["a"]


def test_revert_to_a_malformed_version(st: Storage) -> None:
    space = st.new_space()
    doc = st.upload(space.id, b"x", "d.txt")
    err = sdk_error(
        lambda: st._api.revert_dentry_version_with_options(
            space.id, doc.id, "v1", m.RevertDentryVersionRequest(union_id=st.union_id),
            st._h(m.RevertDentryVersionHeaders), st._rt,
        )
    )  # fmt: skip
    assert (err.statusCode, err.code) == (400, "paramError.version")
    assert st.get_dentry(space.id, doc.id).version == 1


def test_overwrite_target_must_be_a_file(st: Storage) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "f")
    for target, code in (
        (folder.id, "paramError.overwriteDentryId"),
        ("x1", "paramError.overwriteDentryId"),
    ):
        info = st.upload_info(space.id)
        st.put(info, b"bytes")
        err = sdk_error(
            lambda i=info, t=target: st.commit(
                space.id, i.upload_key, "n.txt", overwrite_dentry_id=t
            )
        )
        assert (err.statusCode, err.code) == (400, code)
    assert [d.name for d in st.list_all(space.id)] == ["f"]


def test_negative_declared_size(st: Storage) -> None:
    space = st.new_space()
    check = m.GetFileUploadInfoRequestOptionPreCheckParam(size=-1)
    err = sdk_error(lambda: st.upload_info(space.id, pre_check=check))
    assert (err.statusCode, err.code) == (400, "paramError.size")


def test_app_properties_are_bounded(st: Storage) -> None:
    """A name of 1 to 256 characters, a value of at most 4096, 3 per app per dentry
    (service/properties.py); anything more is refused and changes nothing."""
    space = st.new_space()
    doc = st.upload(space.id, b"x", "d.txt", app_properties=[("a", "1", "PUBLIC")])
    path = f"/spaces/{space.id}/dentries/{doc.id}/appProperties"

    def put(*props: tuple[str, str]) -> httpx.Response:
        body = [{"name": n, "value": v, "visibility": "PUBLIC"} for n, v in props]
        return st.raw("PUT", path, json={"appProperties": body})

    for props, code in (
        ([("b", "v" * 4097)], "paramError.appProperties"),
        ([("n" * 257, "v")], "paramError.appProperties"),
        ([("b", "1"), ("c", "2"), ("d", "3")], "dentryAppPropertiesNumberExceedsLimit"),
    ):
        response = put(*props)
        assert (response.status_code, response.json()["code"]) == (400, code)
    assert put(("b", "v" * 4096), ("n" * 256, "w")).status_code == 200
    (mine,) = st.raw_dentry(space.id, doc.id)["appProperties"].values()
    assert sorted(len(p["value"]) for p in mine) == [1, 1, 4096]
