"""What several sections share: the objects of spec §5 (a dentry, a space, a task ...)
and the bodies more than one operation takes or answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dingstore.api.schemas import Name, Wire, one_of
from dingstore.service import tree


class Quota(Wire):
    used: int
    max: int | None = None
    reserved: int | None = None
    type: str


class Partition(Wire):
    partition_type: str = "PUBLIC_OSS_PARTITION"
    quota: Quota


class Capabilities(Wire):
    can_search: bool = False
    can_rename: bool = False
    can_record_recent_file: bool = False


class Space(Wire):
    id: str
    corp_id: str
    app_id: str
    name: str | None = None
    owner_type: str
    owner_id: str
    creator_id: str
    modifier_id: str
    quota: int
    used_quota: int
    status: str
    scene: str
    scene_id: str
    capabilities: Capabilities
    partitions: list[Partition]
    create_time: str
    modified_time: str


class AppProperty(Wire):
    name: Name
    value: Name
    visibility: str = "PRIVATE"


class DentryProperties(Wire):
    read_only: bool = False


class Thumbnail(Wire):
    width: int
    height: int
    url: str


class Dentry(Wire):
    id: str
    space_id: str
    parent_id: str
    type: str
    name: str
    size: int | None = None
    path: str
    version: int | None = None
    status: str
    extension: str | None = None
    creator_id: str
    modifier_id: str
    create_time: str
    modified_time: str
    properties: DentryProperties = Field(default_factory=DentryProperties)
    app_properties: dict[str, list[AppProperty]] = Field(default_factory=dict)
    uuid: str
    partition_type: str = "PUBLIC_OSS_PARTITION"
    storage_driver: str = "DINGTALK"
    thumbnail: Thumbnail | None = None
    category: str | None = None


class HeaderSignatureInfo(Wire):
    resource_urls: list[str]
    headers: dict[str, str]
    expiration_seconds: int
    region: str
    internal_resource_urls: list[str] = Field(default_factory=list)


class Task(Wire):
    id: str
    status: str
    total_count: int | None = None
    success_count: int | None = None
    fail_count: int | None = None
    fail_message: str | None = None
    begin_time: str | None = None
    end_time: str | None = None


class DentryResponse(Wire):
    dentry: Dentry


class DentriesPage(Wire):
    dentries: list[Dentry]
    next_token: str | None = None


Strategy = Annotated[str, one_of(tree.STRATEGIES)]


class ConflictOption(Wire):
    conflict_strategy: Strategy | None = None


class MoveOption(Wire):
    conflict_strategy: Strategy | None = None
    preserve_permissions: bool | None = None
    preseve_permissions: bool | None = Field(None, alias="presevePermissions")


class Success(Wire):
    success: bool = True
