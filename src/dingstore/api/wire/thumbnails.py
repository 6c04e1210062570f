"""Thumbnails (spec §6 K op 43)."""

from __future__ import annotations

from dingstore.api.schemas import Wire
from dingstore.api.wire.common import Thumbnail


class GetThumbnailsRequest(Wire):
    dentry_ids: list[str]


class ThumbnailResultItem(Wire):
    space_id: str
    dentry_id: str
    success: bool
    error_code: str | None = None
    thumbnail: Thumbnail | None = None


class GetThumbnailsResponse(Wire):
    result_items: list[ThumbnailResultItem]
