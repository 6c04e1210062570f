"""Open info (spec §6 K 42, 44)."""

from __future__ import annotations

from dingstore.api.schemas import Int64, Wire


class OpenInfoOption(Wire):
    version: Int64 | None = None
    type: str | None = None
    water_mark: bool | None = None
    check_login: bool | None = None


class GetDentryOpenInfoRequest(Wire):
    option: OpenInfoOption | None = None


class GetDentryOpenInfoResponse(Wire):
    url: str
    has_water_mark: bool


class OpenInfo(Wire):
    open_type: str
    url: str


class RegisterOpenInfoRequest(Wire):
    provider: str
    open_infos: list[OpenInfo]


class RegisterOpenInfoResponse(Wire):
    success: bool = True
