"""Online editing (spec §6 K, operations 45 and 46; undocumented, shapes from the SDK)."""

from __future__ import annotations

from dingstore.api.schemas import Wire


class RefreshWebOfficeTokenQuery(Wire):
    web_office_access_token: str
    web_office_refresh_token: str


class WebOfficeTokens(Wire):
    web_office_access_token: str
    web_office_refresh_token: str


class WebOfficeUrl(WebOfficeTokens):
    web_office_url: str
