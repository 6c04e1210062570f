"""The org and the calling app (spec §6 A)."""

from __future__ import annotations

from dingstore.api.schemas import Wire
from dingstore.api.wire import common


class Org(Wire):
    corp_id: str
    partitions: list[common.Partition]


class GetOrgResponse(Wire):
    org: Org


class App(Wire):
    corp_id: str
    app_id: str
    name: str
    create_time: str
    modified_time: str
    partitions: list[common.Partition]


class GetCurrentAppResponse(Wire):
    app: App
