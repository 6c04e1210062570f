"""The org's recycle bin (spec §6 H): what ``delete`` put there, restored or purged."""

from __future__ import annotations

from collections.abc import Sequence

from dingstore.client import flows, models
from dingstore.client.bind import listing, operation
from dingstore.client.spaces import Spaces
from dingstore.client.tasks import Started, item, keys, started, tasked

BATCH_RESTORE, BATCH_PURGE = 30, 50

RecycleItems = models.RecycleItem | str | Sequence[models.RecycleItem | str]


def _ids(items: RecycleItems) -> list[str]:
    if isinstance(items, (models.RecycleItem, str)):
        items = [items]
    return [i.id if isinstance(i, models.RecycleItem) else i for i in items]


class Recycle(Spaces):
    def _bin(self) -> flows.Flow[str]:
        """The path of the org's recycle bin (GetRecycleBin, asked once)."""
        if self._session.recycle_bin_id is None:
            corp_id = yield from self._corp_id()
            answer = yield from self._session.call(
                "GET",
                "/v1.0/storage/recycleBins",
                params={"recycleBinScope": "ORG", "scopeId": corp_id},
            )
            self._session.recycle_bin_id = str(answer["recycleBin"]["id"])
        return f"/v1.0/storage/recycleBins/{self._session.recycle_bin_id}"

    @listing
    def recycle_items(self) -> flows.Pages[models.RecycleItem]:
        """What the org's recycle bin holds (ListRecycleItems)."""

        def page(token: str | None) -> flows.Flow[flows.Page[models.RecycleItem]]:
            path = yield from self._bin()
            answer = yield from self._session.call(
                "GET", f"{path}/recycleItems", params={"maxResults": 50, "nextToken": token}
            )
            items = [models.read(models.RecycleItem, i) for i in answer.get("recycleItems") or []]
            return flows.Page(items, answer.get("nextToken") or None)

        return page

    @tasked
    def restore(
        self,
        items: RecycleItems,
        *,
        conflict: models.Conflict = "AUTO_RENAME",
        idempotency_key: str | None = None,
    ) -> flows.Flow[Started]:
        """Put recycle-bin items (or their ids) back where they were (RestoreRecycleItems,
        30 a call); each item's ``target`` is the restored file or folder.
        ``idempotency_key`` as for ``copy``."""
        path = yield from self._bin()
        ids = _ids(items)
        key = keys(idempotency_key)
        results = []
        for start in range(0, len(ids), BATCH_RESTORE):
            answer = yield from self._session.call(
                "POST",
                f"{path}/recycleItems/batchRestore",
                body={
                    "recycleItemIds": ids[start : start + BATCH_RESTORE],
                    "option": {"conflictStrategy": conflict},
                },
                idempotency_key=next(key),
            )
            results += [
                item(i, "recycleItemId", ("spaceId", "dentryId"))
                for i in answer.get("resultItems") or []
            ]
        return started(results)

    @operation
    def purge(self, items: RecycleItems) -> flows.Flow[None]:
        """Delete recycle-bin items for good (DeleteRecycleItems): they cannot be restored."""
        path = yield from self._bin()
        ids = _ids(items)
        for start in range(0, len(ids), BATCH_PURGE):
            yield from self._session.call(
                "POST",
                f"{path}/recycleItems/batchRemove",
                body={"recycleItemIds": ids[start : start + BATCH_PURGE]},
            )

    @operation
    def clear_recycle_bin(self) -> flows.Flow[None]:
        """Delete everything in the org's recycle bin for good (ClearRecycleBin)."""
        path = yield from self._bin()
        yield from self._session.call("POST", f"{path}/clear")
