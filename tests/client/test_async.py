"""``AsyncClient``: the same methods as ``Client``, each a coroutine (listings async
iterators), run on the same flows; both shapes, since bytes move."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from dingstore.client import AsyncClient, AsyncTask, Client, Task, TaskBase
from tests.client.conftest import SMALL_PARTS

PUBLIC = sorted(n for n in dir(Client) if not n.startswith("_") and n not in {"close"})


def test_the_async_client_has_every_method_of_the_client() -> None:
    async_public = sorted(
        n for n in dir(AsyncClient) if not n.startswith("_") and n not in {"aclose"}
    )
    assert async_public == PUBLIC
    for name in PUBLIC:
        method = getattr(Client, name)
        if isinstance(method, property):
            continue
        assert method.__doc__, f"Client.{name} has no docstring"
        assert method is getattr(AsyncClient, name)  # one implementation, two drivers
    assert [n for n in dir(Task) if not n.startswith("_")] == [
        n for n in dir(AsyncTask) if not n.startswith("_")
    ]


async def test_async_round_trip(
    connect_async: Callable[..., AsyncClient], shape: str, tmp_path: Path
) -> None:
    part = SMALL_PARTS[shape]
    async with connect_async(multipart_threshold=part + 1, part_size=part, parallel=3) as client:
        space = await client.create_space("async")
        folder = await client.create_folder(space, "f")
        big = os.urandom(2 * part + 100)
        source = tmp_path / "big.bin"
        source.write_bytes(big)
        made, small = await asyncio.gather(
            client.upload(source, folder), client.upload(b"tiny", folder, "tiny.txt")
        )
        assert hashlib.sha256(await client.read(made)).digest() == hashlib.sha256(big).digest()
        path = await client.download(small, tmp_path / "tiny.txt")
        assert path.read_bytes() == b"tiny"
        assert [d.name async for d in client.list(folder, page_size=1)] == ["big.bin", "tiny.txt"]

        seen: list[int] = []

        def progress(task: TaskBase) -> None:
            seen.append(task.success_count)

        task = await client.copy(folder, space)
        assert isinstance(task, AsyncTask)
        await task.wait(progress)
        assert (task.status, task.total_count, seen[-1]) == ("SUCCESS", 3, 3)

        deleted = await (await client.delete(folder)).wait()
        assert deleted.status == "SUCCESS"
        items = [i async for i in client.recycle_items() if i.dentry_id == folder.id]
        restored = await (await client.restore(items)).wait()
        assert restored.status == "SUCCESS"
        assert [v.version async for v in client.versions(small)] == [1]
