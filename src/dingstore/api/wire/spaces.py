"""Spaces (spec §6 B)."""

from __future__ import annotations

from typing import Annotated

from dingstore.api.schemas import NAME_RULE, Int64, Wire
from dingstore.api.wire import common


class AddSpaceOption(Wire):
    name: Annotated[str | None, NAME_RULE] = None
    quota: Int64 | None = None
    capabilities: common.Capabilities | None = None
    scene: str | None = None
    scene_id: str | None = None
    owner_type: str | None = None


class AddSpaceRequest(Wire):
    option: AddSpaceOption | None = None


class SpaceResponse(Wire):
    space: common.Space


# --- dingstore's space list (/dingstore/v1/spaces, docs/files.md#the-space-list) --------------


class ListSpacesQuery(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None


class ListSpacesResponse(Wire):
    spaces: list[common.Space]
    next_token: str | None = None
