"""Versions and app properties (spec §6 F, G)."""

from __future__ import annotations

from typing import Annotated

from dingstore.api.schemas import NAME_RULE, Int64, Wire
from dingstore.api.wire import common


class ListVersionsQuery(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None


class UpdateAppPropertiesRequest(Wire):
    app_properties: list[common.AppProperty]


class DeleteAppPropertiesRequest(Wire):
    property_names: Annotated[list[str], NAME_RULE]
