"""Files and folders (spec §6 C), their versions (§6 F): reading, listing, folders, renames."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from dingstore.client import errors, flows, models
from dingstore.client.bind import listing, operation
from dingstore.client.spaces import Base

PAGE = 50
"""The most ListDentries and ListAllDentries answer in a page."""


def dentry_path(node: models.Node, tail: str = "") -> str:
    return f"/v1.0/storage/spaces/{node.space_id}/dentries/{node.id}{tail}"


class Dentries(Base):
    @operation
    def get(self, target: models.Target) -> flows.Flow[models.Dentry]:
        """The file or folder ``target`` (GetDentry)."""
        node = models.node(target)
        answer = yield from self._session.call("POST", dentry_path(node, "/query"), body={})
        return models.read(models.Dentry, answer["dentry"])

    @listing
    def list(
        self,
        folder: models.Target,
        *,
        order_by: Literal["MODIFIED_TIME", "CREATE_TIME", "NAME", "SIZE"] = "NAME",
        order: Literal["ASC", "DESC"] = "ASC",
        page_size: int = PAGE,
    ) -> flows.Pages[models.Dentry]:
        """The files and folders in ``folder`` (ListDentries), one level, by name unless
        ``order_by`` says otherwise; pages are fetched as the iteration reaches them."""
        node = models.node(folder)

        def page(token: str | None) -> flows.Flow[flows.Page[models.Dentry]]:
            answer = yield from self._session.call(
                "GET",
                f"/v1.0/storage/spaces/{node.space_id}/dentries",
                params={
                    "parentId": node.id,
                    "orderBy": order_by,
                    "order": order,
                    "maxResults": page_size,
                    "nextToken": token,
                },
            )
            return _dentries(answer)

        return page

    @listing
    def list_all(
        self, space: models.Target, *, order: Literal["ASC", "DESC"] = "ASC", page_size: int = PAGE
    ) -> flows.Pages[models.Dentry]:
        """Every file and folder of the space of ``space``, at any depth (ListAllDentries), by
        modified time."""
        space_id = models.node(space).space_id

        def page(token: str | None) -> flows.Flow[flows.Page[models.Dentry]]:
            option: dict[str, Any] = {"order": order, "maxResults": page_size}
            if token is not None:
                option["nextToken"] = token
            answer = yield from self._session.call(
                "POST", f"/v1.0/storage/spaces/{space_id}/dentries/listAll", body={"option": option}
            )
            return _dentries(answer)

        return page

    @operation
    def resolve(self, space: models.Target, path: str) -> flows.Flow[models.Dentry | None]:
        """The file or folder at ``path`` (``/a/b.txt``; ``/`` is the root) in the space of
        ``space``, found by listing each folder on the way; None if there is none."""
        node = models.node(space)
        current: models.Dentry | None = None
        parent = models.Node(node.space_id, "0")
        for name in [part for part in path.split("/") if part]:
            if current is not None and not current.is_folder:
                return None
            current = yield from self._child(parent, name)
            if current is None:
                return None
            parent = current.node
        if current is None:
            answer = yield from self._session.call("GET", f"/v1.0/storage/spaces/{node.space_id}")
            return models.Dentry(
                id="0",
                space_id=answer["space"]["id"],
                parent_id="",
                type="FOLDER",
                name="",
                path="/",
            )
        return current

    def _child(self, parent: models.Node, name: str) -> flows.Flow[models.Dentry | None]:
        token: str | None = None
        while True:
            answer = yield from self._session.call(
                "GET",
                f"/v1.0/storage/spaces/{parent.space_id}/dentries",
                params={"parentId": parent.id, "maxResults": PAGE, "nextToken": token},
            )
            page = _dentries(answer)
            for dentry in page.items:
                if dentry.name == name:
                    return dentry
            if page.next is None:
                return None
            token = page.next

    @operation
    def create_folder(
        self,
        parent: models.Target,
        name: str,
        *,
        conflict: models.Conflict = "AUTO_RENAME",
        idempotency_key: str | None = None,
    ) -> flows.Flow[models.Dentry]:
        """A new folder ``name`` in ``parent`` (AddFolder). ``conflict`` says what happens
        when the name is taken: ``RETURN_DENTRY_IF_EXISTS`` returns the existing folder. The
        call carries ``idempotency_key`` (a random one if None): made again after a lost
        connection, it makes no second folder."""
        node = models.node(parent)
        answer = yield from self._session.call(
            "POST",
            dentry_path(node, "/folders"),
            body={"name": name, "option": {"conflictStrategy": conflict}},
            idempotency_key=idempotency_key or uuid.uuid4().hex,
        )
        return models.read(models.Dentry, answer["dentry"])

    @operation
    def make_folders(self, space: models.Target, path: str) -> flows.Flow[models.Dentry]:
        """The folder at ``path`` in the space of ``space``, made with every missing folder
        on the way (as ``mkdir -p``); an existing folder is returned as it is."""
        parent = models.Node(models.node(space).space_id, "0")
        folder: models.Dentry | None = None
        for name in [part for part in path.split("/") if part]:
            folder = yield from Dentries.create_folder.flow(
                self, parent, name, conflict="RETURN_DENTRY_IF_EXISTS"
            )
            if not folder.is_folder:
                raise errors.DingstoreError(
                    "dentryAlreadyExist", f"{folder.path} is a file", status=400
                )
            parent = folder.node
        if folder is None:
            root = yield from Dentries.resolve.flow(self, space, "/")
            assert root is not None
            return root
        return folder

    @operation
    def rename(self, target: models.Target, new_name: str) -> flows.Flow[models.Dentry]:
        """Rename ``target`` (RenameDentry); a sibling of that name is ``dentryAlreadyExist``."""
        answer = yield from self._session.call(
            "POST", dentry_path(models.node(target), "/rename"), body={"newName": new_name}
        )
        return models.read(models.Dentry, answer["dentry"])

    @listing
    def versions(self, target: models.Target) -> flows.Pages[models.Dentry]:
        """Every stored version of the file ``target``, the current one first
        (ListDentryVersions); each entry's ``version`` is the version it is."""
        node = models.node(target)

        def page(token: str | None) -> flows.Flow[flows.Page[models.Dentry]]:
            answer = yield from self._session.call(
                "GET",
                dentry_path(node, "/versions"),
                params={"maxResults": 100, "nextToken": token},
            )
            return _dentries(answer)

        return page

    @operation
    def revert(self, target: models.Target, version: int) -> flows.Flow[None]:
        """Make ``version`` of the file ``target`` its current content again, as a new version
        (RevertDentryVersion): history is never rewritten."""
        yield from self._session.call(
            "POST", dentry_path(models.node(target), f"/versions/{version}/revert")
        )

    @operation
    def set_properties(
        self, target: models.Target, properties: dict[str, str], *, public: bool = False
    ) -> flows.Flow[None]:
        """Set the calling app's properties ``properties`` (name → value, at most 3) on
        ``target`` (UpdateDentryAppProperties); ``public`` makes them visible to other apps."""
        visibility = "PUBLIC" if public else "PRIVATE"
        items = [{"name": k, "value": v, "visibility": visibility} for k, v in properties.items()]
        yield from self._session.call(
            "PUT", dentry_path(models.node(target), "/appProperties"), body={"appProperties": items}
        )

    @operation
    def delete_properties(self, target: models.Target, names: Sequence[str]) -> flows.Flow[None]:
        """Remove the calling app's properties ``names`` from ``target``."""
        yield from self._session.call(
            "POST",
            dentry_path(models.node(target), "/appProperties/remove"),
            body={"propertyNames": list(names)},
        )


def _dentries(answer: dict[str, Any]) -> flows.Page[models.Dentry]:
    items = [models.read(models.Dentry, d) for d in answer.get("dentries") or []]
    return flows.Page(items, answer.get("nextToken") or None)
