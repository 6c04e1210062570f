"""Snapshots of the whole store, held in the server's memory (test stores are small).

A snapshot is every row of every table (``store/resets.py`` ``dump``), and the bytes of every
object those rows name: file contents (``blobs/<id>``, of the blob rows and of the uploads not
yet committed) and thumbnails (``thumbnails/<id>``). Restoring puts the rows back in one
transaction, then writes back each object the store no longer has. It reads and writes through
the two seams only, so it works on either shape (SQLite or PostgreSQL, any blob store). The id
counter is not rolled back: ids handed out since stay unique.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dingstore import errors
from dingstore.blobs.keys import blob_key, thumbnail_key
from dingstore.store import resets

if TYPE_CHECKING:
    from dingstore.service.container import Services


@dataclass(frozen=True, slots=True)
class Snapshot:
    rows: resets.Rows
    objects: dict[str, bytes]


def _keys(rows: resets.Rows) -> list[str]:
    ids = {int(r["id"]) for r in rows.get("blobs", ())}
    ids |= {int(r["blob_id"]) for r in rows.get("uploads", ())}
    keys = [blob_key(i) for i in sorted(ids)]
    keys += [
        thumbnail_key(int(r["source_blob_id"]))
        for r in rows.get("thumbnails", ())
        if r.get("status") == "READY"
    ]
    return keys


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Snapshots:
    def __init__(self, services: Services) -> None:
        self._svc = services
        self._taken: dict[str, Snapshot] = {}

    def names(self) -> list[str]:
        return sorted(self._taken)

    async def take(self, name: str) -> None:
        if not name or len(name) > 128:
            raise errors.param_error("name", "a snapshot needs a name of 1 to 128 characters")
        # In the writer's turn, so that no write lands half in it.
        async with self._svc.db.write(long=True) as conn:
            rows = await resets.dump(conn)
        objects: dict[str, bytes] = {}
        store = self._svc.blobs
        for key in _keys(rows):
            if await store.size(key) is None:  # an upload not sent yet, a thumbnail gone
                continue
            objects[key] = b"".join([chunk async for chunk in store.read(key)])
        self._taken[name] = Snapshot(rows, objects)

    def drop(self, name: str) -> None:
        if self._taken.pop(name, None) is None:
            raise errors.SNAPSHOT_NOT_EXIST.error(f"no snapshot named {name!r}")

    async def restore(self, name: str) -> None:
        snapshot = self._taken.get(name)
        if snapshot is None:
            raise errors.SNAPSHOT_NOT_EXIST.error(f"no snapshot named {name!r}")
        store = self._svc.blobs
        # Bytes first: once the rows are back, every object they name must be there.
        for key, data in snapshot.objects.items():
            if await store.size(key) is None:
                await store.write(key, _once(data))
        async with self._svc.db.write(long=True) as conn:
            await resets.load(conn, snapshot.rows)
            await conn.notify(resets.TASKS_CHANNEL)
