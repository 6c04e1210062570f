"""Spaces (spec §6 B) and the org the app belongs to."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from dingstore.client import flows, models
from dingstore.client.bind import listing, operation
from dingstore.client.session import Session


class Base:
    """What every family of operations reads: the client's ``Session``."""

    _session: Session


class Spaces(Base):
    @operation
    def create_space(
        self,
        name: str | None = None,
        *,
        quota: int | None = None,
        owner_type: Literal["USER", "APP"] = "USER",
        scene: str | None = None,
        scene_id: str | None = None,
        can_search: bool = False,
        can_rename: bool = False,
    ) -> flows.Flow[models.Space]:
        """Create a space (AddSpace). ``quota`` in bytes (None: no cap of its own).
        (``scene``, ``scene_id``) is an idempotency key: when the app already has a space
        with them, that space is returned and nothing is created; left out, each call
        creates a new space."""
        option: dict[str, Any] = {
            "ownerType": owner_type,
            "capabilities": {"canSearch": can_search, "canRename": can_rename},
        }
        if name is not None:
            option["name"] = name
        if quota is not None:
            option["quota"] = quota
        if scene is None and scene_id is None:
            scene, scene_id = "dingstore.client", uuid.uuid4().hex
        if scene is not None:
            option["scene"] = scene
        if scene_id is not None:
            option["sceneId"] = scene_id
        answer = yield from self._session.call(
            "POST", "/v1.0/storage/spaces", body={"option": option}
        )
        return models.read(models.Space, answer["space"])

    @operation
    def get_space(self, space_id: str) -> flows.Flow[models.Space]:
        """The space ``space_id`` (GetSpace)."""
        answer = yield from self._session.call("GET", f"/v1.0/storage/spaces/{space_id}")
        return models.read(models.Space, answer["space"])

    @listing
    def spaces(self, *, page_size: int = 50) -> flows.Pages[models.Space]:
        """The spaces the operator may read (dingstore's ``/dingstore/v1/spaces``), newest
        first: every space of the org for an org admin; else those they created or own or hold
        a grant in (docs/files.md#the-space-list). Pages of ``page_size`` (1 to 100) are
        fetched as the iterator gets to them."""

        def page(token: str | None) -> flows.Flow[flows.Page[models.Space]]:
            answer = yield from self._session.call(
                "GET", "/dingstore/v1/spaces", params={"maxResults": page_size, "nextToken": token}
            )
            items = [models.read(models.Space, s) for s in answer.get("spaces") or []]
            return flows.Page(items, answer.get("nextToken") or None)

        return page

    @operation
    def corp_id(self) -> flows.Flow[str]:
        """The corpId of the app's org (GetCurrentApp, asked once)."""
        return (yield from self._corp_id())

    def _corp_id(self) -> flows.Flow[str]:
        if self._session.corp_id is None:
            answer = yield from self._session.call("POST", "/v1.0/storage/currentApps/query")
            self._session.corp_id = str(answer["app"]["corpId"])
        return self._session.corp_id
