"""Request and response bodies of the storage operations (spec §5, §6 A to H), in DingTalk's
camelCase. Responses leave out what has no value (``exclude_none``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dingstore.api.schemas import NAME_RULE, Int64, Name, Wire

# --- shared objects (spec §5) -------------------------------------------------------------


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
    category: str | None = None


class HeaderSignatureInfo(Wire):
    resource_urls: list[str]
    headers: dict[str, str]
    expiration_seconds: int
    region: str
    internal_resource_urls: list[str] = Field(default_factory=list)


# --- A. org and app -----------------------------------------------------------------------


class Org(Wire):
    corp_id: str
    partitions: list[Partition]


class GetOrgResponse(Wire):
    org: Org


class App(Wire):
    corp_id: str
    app_id: str
    name: str
    create_time: str
    modified_time: str
    partitions: list[Partition]


class GetCurrentAppResponse(Wire):
    app: App


# --- B. spaces ----------------------------------------------------------------------------


class AddSpaceOption(Wire):
    name: Annotated[str | None, NAME_RULE] = None
    quota: Int64 | None = None
    capabilities: Capabilities | None = None
    scene: str | None = None
    scene_id: str | None = None
    owner_type: str | None = None


class AddSpaceRequest(Wire):
    option: AddSpaceOption | None = None


class SpaceResponse(Wire):
    space: Space


# --- C. dentries --------------------------------------------------------------------------


class AddFolderOption(Wire):
    conflict_strategy: str | None = None
    app_properties: list[AppProperty] | None = None


class AddFolderRequest(Wire):
    name: Name
    option: AddFolderOption | None = None


class DentryResponse(Wire):
    dentry: Dentry


class GetDentryOption(Wire):
    app_ids_for_app_properties: list[str] | None = Field(None, max_length=20)
    with_thumbnail: bool | None = None


class GetDentryRequest(Wire):
    option: GetDentryOption | None = None


class GetDentriesRequest(Wire):
    dentry_ids: list[str]
    option: GetDentryOption | None = None


class DentryResultItem(Wire):
    space_id: str
    dentry_id: str
    success: bool
    error_code: str | None = None
    dentry: Dentry | None = None


class GetDentriesResponse(Wire):
    result_items: list[DentryResultItem]


class ListDentriesQuery(Wire):
    parent_id: str
    next_token: str | None = None
    max_results: Int64 | None = None
    order_by: str | None = None
    order: str | None = None
    with_thumbnail: bool | None = None


class DentriesPage(Wire):
    dentries: list[Dentry]
    next_token: str | None = None


class ListAllOption(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None
    order: str | None = None
    with_thumbnail: bool | None = None


class ListAllDentriesRequest(Wire):
    option: ListAllOption | None = None


class RenameRequest(Wire):
    new_name: Name


class ConflictOption(Wire):
    conflict_strategy: str | None = None


class CopyRequest(Wire):
    target_space_id: str
    target_folder_id: str
    option: ConflictOption | None = None


class MoveOption(Wire):
    conflict_strategy: str | None = None
    preserve_permissions: bool | None = None
    preseve_permissions: bool | None = Field(None, alias="presevePermissions")


class MoveRequest(Wire):
    target_space_id: str
    target_folder_id: str
    option: MoveOption | None = None


class CopyMoveResponse(Wire):
    dentry: Dentry | None = None
    async_: bool = Field(False, alias="async")
    task_id: str | None = None


class DeleteQuery(Wire):
    to_recycle_bin: bool | None = None


class AsyncResponse(Wire):
    async_: bool = Field(False, alias="async")
    task_id: str | None = None


# --- D. upload and download ---------------------------------------------------------------


class PreCheckParam(Wire):
    md5: str | None = None
    size: Int64 | None = None
    parent_id: str | None = None
    name: Annotated[str | None, NAME_RULE] = None


class UploadOption(Wire):
    storage_driver: str | None = None
    pre_check_param: PreCheckParam | None = None
    prefer_region: str | None = None
    prefer_intranet: bool | None = None


class GetFileUploadInfoRequest(Wire):
    protocol: str
    multipart: bool
    option: UploadOption | None = None


class GetFileUploadInfoResponse(Wire):
    upload_key: str
    storage_driver: str = "DINGTALK"
    protocol: str = "HEADER_SIGNATURE"
    header_signature_info: HeaderSignatureInfo | None = None


class CommitOption(Wire):
    size: Int64 | None = None
    conflict_strategy: str | None = None
    app_properties: list[AppProperty] | None = None


class CommitFileRequest(Wire):
    upload_key: str
    name: Name
    parent_id: str
    overwrite_dentry_id: str | None = None
    option: CommitOption | None = None


class InitMultipartRequest(Wire):
    option: UploadOption | None = None


class InitMultipartResponse(Wire):
    upload_key: str
    storage_driver: str = "DINGTALK"


class GetMultipartInfosRequest(Wire):
    upload_key: str
    part_numbers: list[Int64]
    option: UploadOption | None = None


class PartInfo(Wire):
    part_number: int
    header_signature_info: HeaderSignatureInfo


class GetMultipartInfosResponse(Wire):
    multipart_header_signature_infos: list[PartInfo]


class DownloadOption(Wire):
    version: Int64 | None = None
    prefer_intranet: bool | None = None


class GetFileDownloadInfoRequest(Wire):
    option: DownloadOption | None = None


class GetFileDownloadInfoResponse(Wire):
    protocol: str = "HEADER_SIGNATURE"
    header_signature_info: HeaderSignatureInfo


# --- F. versions, G. app properties -------------------------------------------------------


class ListVersionsQuery(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None


class Success(Wire):
    success: bool = True


class UpdateAppPropertiesRequest(Wire):
    app_properties: list[AppProperty]


class DeleteAppPropertiesRequest(Wire):
    property_names: Annotated[list[str], NAME_RULE]


# --- E. batch operations ------------------------------------------------------------------


class BatchCopyRequest(Wire):
    target_space_id: str
    target_folder_id: str
    dentry_ids: list[str]
    option: ConflictOption | None = None


class BatchMoveRequest(Wire):
    target_space_id: str
    target_folder_id: str
    dentry_ids: list[str]
    option: MoveOption | None = None


class DeleteOption(Wire):
    to_recycle_bin: bool | None = None


class BatchRemoveRequest(Wire):
    dentry_ids: list[str]
    option: DeleteOption | None = None


class BatchResultItem(Wire):
    """Per spec §1.11: an async item carries ``taskId`` and neither ``success`` nor
    ``errorCode``; the target ids are there unless the item failed."""

    space_id: str
    dentry_id: str
    async_: bool | None = Field(None, alias="async")
    success: bool | None = None
    error_code: str | None = None
    task_id: str | None = None
    target_space_id: str | None = None
    target_dentry_id: str | None = None


class BatchResponse(Wire):
    result_items: list[BatchResultItem]


# --- H. recycle bin -----------------------------------------------------------------------


class GetRecycleBinQuery(Wire):
    recycle_bin_scope: str
    scope_id: str


class RecycleBin(Wire):
    id: str
    scope: str
    scope_id: str


class GetRecycleBinResponse(Wire):
    recycle_bin: RecycleBin


class RecycleItem(Wire):
    id: str
    space_id: str
    dentry_id: str
    size: int
    type: str
    original_name: str
    original_path: str
    operator_id: str
    operator_time: str


class ListRecycleItemsQuery(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None


class RecycleItemsPage(Wire):
    recycle_items: list[RecycleItem]
    next_token: str | None = None


class RecycleItemResponse(Wire):
    item: RecycleItem


class RestoreRequest(Wire):
    option: ConflictOption | None = None


class RestoreResponse(Wire):
    async_: bool = Field(False, alias="async")
    task_id: str | None = None
    space_id: str | None = None
    dentry_id: str | None = None


class BatchRestoreRequest(Wire):
    recycle_item_ids: list[str]
    option: ConflictOption | None = None


class RestoreResultItem(Wire):
    """Per spec §1.11, as ``BatchResultItem``: an async item carries ``taskId`` and neither
    ``success`` nor ``errorCode``; ``spaceId``/``dentryId`` are there unless it failed."""

    recycle_bin_id: str
    recycle_item_id: str
    async_: bool | None = Field(None, alias="async")
    success: bool | None = None
    error_code: str | None = None
    task_id: str | None = None
    space_id: str | None = None
    dentry_id: str | None = None


class BatchRestoreResponse(Wire):
    result_items: list[RestoreResultItem]


class RecycleItemIdsRequest(Wire):
    recycle_item_ids: list[str]


# --- I. permissions -----------------------------------------------------------------------


class PermissionMember(Wire):
    type: str | None = None
    id: str | None = None
    corp_id: str | None = None


class PermissionOption(Wire):
    duration: Int64 | None = None


class PermissionRequest(Wire):
    """AddPermission, UpdatePermission and DeletePermission (which sends no ``option``)."""

    role_id: str
    members: list[PermissionMember]
    option: PermissionOption | None = None


class ListPermissionsOption(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None
    filter_role_ids: list[str] | None = None


class ListPermissionsRequest(Wire):
    option: ListPermissionsOption | None = None


class PermissionRole(Wire):
    id: str
    name: str


class Permission(Wire):
    space_id: str
    dentry_id: str
    member: PermissionMember
    role: PermissionRole
    duration: int
    create_time: str
    modified_time: str
    operator_id: str


class PermissionsPage(Wire):
    permissions: list[Permission]
    next_token: str | None = None


class BatchQueryRolesQuery(Wire):
    dentry_id_list: str


class BatchQueryRolesResponse(Wire):
    role_map: dict[str, list[PermissionRole]]
