"""Open info (spec §6 K 42, 44)."""

from __future__ import annotations

from typing import Annotated

from dingstore.api.schemas import Int64, Wire, one_of
from dingstore.service import previews

OpenType = Annotated[str, one_of(previews.OPEN_TYPES)]


class OpenInfoOption(Wire):
    version: Int64 | None = None
    type: OpenType | None = None
    water_mark: bool | None = None
    check_login: bool | None = None


class GetDentryOpenInfoRequest(Wire):
    option: OpenInfoOption | None = None


class GetDentryOpenInfoResponse(Wire):
    url: str
    has_water_mark: bool


class OpenInfo(Wire):
    open_type: OpenType
    url: str


class RegisterOpenInfoRequest(Wire):
    provider: str
    open_infos: list[OpenInfo]


class RegisterOpenInfoResponse(Wire):
    success: bool = True
