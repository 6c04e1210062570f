"""Upload and download (spec §6 D)."""

from __future__ import annotations

from typing import Annotated

from dingstore.api.schemas import NAME_RULE, Int64, Name, Wire, one_of
from dingstore.api.wire import common
from dingstore.service import files as file_service


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
    protocol: Annotated[str, one_of(file_service.PROTOCOLS)]
    multipart: bool
    option: UploadOption | None = None


class GetFileUploadInfoResponse(Wire):
    upload_key: str
    storage_driver: str = "DINGTALK"
    protocol: str = "HEADER_SIGNATURE"
    header_signature_info: common.HeaderSignatureInfo | None = None


class CommitOption(Wire):
    size: Int64 | None = None
    conflict_strategy: common.Strategy | None = None
    app_properties: list[common.AppProperty] | None = None


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
    header_signature_info: common.HeaderSignatureInfo


class GetMultipartInfosResponse(Wire):
    multipart_header_signature_infos: list[PartInfo]


class DownloadOption(Wire):
    version: Int64 | None = None
    prefer_intranet: bool | None = None


class GetFileDownloadInfoRequest(Wire):
    option: DownloadOption | None = None


class GetFileDownloadInfoResponse(Wire):
    protocol: str = "HEADER_SIGNATURE"
    header_signature_info: common.HeaderSignatureInfo
