"""Spaces, folders and listings through ``Client``: iterators that page, paths, renames."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from dingstore.client import AsyncClient, Client, DingstoreError, Node
from tests.conftest import Tenant
from tests.live import LiveServer

pytestmark = pytest.mark.shapes("embedded")  # no bytes move: one shape is enough


def test_spaces_create_get_and_scene_idempotency(client: Client) -> None:
    one = client.create_space("one", quota=10_000)
    two = client.create_space("two")
    assert one.id != two.id
    got = client.get_space(one.id)
    assert (got.name, got.quota, got.used_quota, got.owner_type) == ("one", 10_000, 0, "USER")
    assert got.create_time is not None and got.create_time.tzinfo is not None
    again = client.create_space("ignored", scene="sync", scene_id="7")
    assert client.create_space(scene="sync", scene_id="7").id == again.id
    assert client.corp_id() == got.corp_id


def test_spaces_iterates_what_the_operator_may_read(
    client: Client,
    connect: Callable[..., Client],
    connect_async: Callable[..., AsyncClient],
    server: LiveServer,
    tenant: Tenant,
) -> None:
    spaces = [client.create_space(f"s{n}") for n in range(3)]
    made = [s.id for s in spaces]
    assert [s.id for s in client.spaces(page_size=2)] == made[::-1]  # two pages
    assert [s.name for s in client.spaces()] == ["s2", "s1", "s0"]
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    client.grant(spaces[1], "READER", bob.union_id)
    as_bob = connect(bob.union_id)
    assert [s.id for s in as_bob.spaces(page_size=1)] == [made[1]]
    own = as_bob.create_space("bob's")
    assert [s.id for s in as_bob.spaces()] == [own.id, made[1]]
    with pytest.raises(DingstoreError) as info:
        next(iter(client.spaces(page_size=101)))
    assert (info.value.code, info.value.status) == ("paramError.maxResults", 400)

    async def listed() -> list[str]:
        async with connect_async(bob.union_id) as aclient:
            return [s.id async for s in aclient.spaces(page_size=1)]

    assert asyncio.run(listed()) == [own.id, made[1]]


def test_list_pages_for_you(client: Client) -> None:
    space = client.create_space()
    folder = client.create_folder(space, "many")
    names = [f"f{n:02}.txt" for n in range(7)]
    for name in names:
        client.upload(name.encode(), folder, name)
    client.create_folder(space, "other")

    listed = list(client.list(folder, page_size=2))  # four pages
    assert [d.name for d in listed] == names
    assert {d.size for d in listed} == {7}
    desc = [d.name for d in client.list(folder, order="DESC", page_size=3)]
    assert desc == names[::-1]

    everything = list(client.list_all(space, page_size=3))
    assert sorted(d.name for d in everything) == sorted([*names, "many", "other"])
    assert [d.name for d in client.list(space.root)] == ["many", "other"]


def test_folders_paths_and_rename(client: Client) -> None:
    space = client.create_space()
    deep = client.make_folders(space, "/a/b/c")
    assert deep.path == "/a/b/c"
    assert client.make_folders(space, "a/b/c").id == deep.id  # mkdir -p: nothing new
    made = client.upload(b"x", deep, "x.txt")

    assert client.resolve(space, "/a/b/c/x.txt") == made
    assert client.resolve(space, "/a/nothing") is None
    assert client.resolve(space, "/a/b/c/x.txt/deeper") is None
    root = client.resolve(space, "/")
    assert root is not None and (root.id, root.is_folder) == ("0", True)

    taken = client.create_folder(deep, "x.txt", conflict="AUTO_RENAME")
    assert taken.name == "x.txt(1)"  # a folder has no extension
    again = client.create_folder(space, "a", conflict="RETURN_DENTRY_IF_EXISTS")
    assert again.path == "/a"

    renamed = client.rename(made, "y.txt")
    assert (renamed.id, renamed.path) == (made.id, "/a/b/c/y.txt")
    assert client.get((space.id, made.id)).name == "y.txt"
    assert client.get(Node(space.id, made.id)).name == "y.txt"
    with pytest.raises(DingstoreError) as info:
        client.rename(renamed, "x.txt(1)")
    assert (info.value.code, info.value.status) == ("dentryAlreadyExist", 400)
    with pytest.raises(DingstoreError) as info:
        client.make_folders(space, "/a/b/c/y.txt/z")
    assert info.value.code == "dentryAlreadyExist"


def test_app_properties(client: Client) -> None:
    space = client.create_space()
    made = client.upload(b"x", space, "p.txt")
    client.set_properties(made, {"color": "red", "size": "L"})
    props = client.get(made).app_properties
    assert {p["name"]: p["value"] for values in props.values() for p in values} == {
        "color": "red",
        "size": "L",
    }
    client.delete_properties(made, ["color"])
    props = client.get(made).app_properties
    assert [p["name"] for values in props.values() for p in values] == ["size"]
