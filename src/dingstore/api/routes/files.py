"""Upload and download (spec §6 D)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Request

from dingstore.api import idempotent, responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import common
from dingstore.api.wire import files as wire
from dingstore.service.files import Commit, PreCheck

router = api_router("/v1.0/storage/spaces", tags=["upload and download"])


def _pre_check(option: wire.UploadOption) -> PreCheck:
    p = option.pre_check_param or wire.PreCheckParam()
    return PreCheck(md5=p.md5, size=p.size, parent_id=p.parent_id, name=p.name)


@router.post(
    "/{spaceId}/files/uploadInfos/query",
    response_model=wire.GetFileUploadInfoResponse,
    name="GetFileUploadInfo",
)
async def get_file_upload_info(
    spaceId: str,
    request: Request,
    body: Annotated[wire.GetFileUploadInfoRequest, Body()],
    caller: Caller = operation("GetFileUploadInfo", "Storage.UploadInfo.Read"),
) -> responses.JSON:
    option = body.option or wire.UploadOption()
    info = await services(request).files.upload_info(
        caller,
        spaceId,
        protocol=body.protocol,
        multipart=body.multipart,
        storage_driver=option.storage_driver,
        check=_pre_check(option),
    )
    return responses.ok(
        wire.GetFileUploadInfoResponse(
            upload_key=info.upload_key,
            header_signature_info=views.signature(info.transfer) if info.transfer else None,
        )
    )


@router.post(
    "/{spaceId}/files/commit",
    response_model=common.DentryResponse,
    name="CommitFile",
    openapi_extra=idempotent.DOCUMENTED,
)
async def commit_file(
    spaceId: str,
    request: Request,
    body: Annotated[wire.CommitFileRequest, Body()],
    caller: Caller = operation("CommitFile", "Storage.File.Write"),
) -> responses.JSON:
    async def run() -> responses.JSON:
        option = body.option or wire.CommitOption()
        commit = Commit(
            upload_key=body.upload_key,
            name=body.name,
            parent_id=body.parent_id,
            overwrite_dentry_id=body.overwrite_dentry_id,
            size=option.size,
            conflict_strategy=option.conflict_strategy,
            app_properties=views.property_inputs(option.app_properties),
        )
        dentry = await services(request).files.commit(caller, spaceId, commit)
        return responses.ok(common.DentryResponse(dentry=views.dentry(dentry)))

    return await idempotent.idempotent(request, caller, "CommitFile", body, run)


@router.post(
    "/{spaceId}/files/multiPartUploadInfos/init",
    response_model=wire.InitMultipartResponse,
    name="InitMultipartFileUpload",
)
async def init_multipart_file_upload(
    spaceId: str,
    request: Request,
    body: Annotated[wire.InitMultipartRequest, Body()],
    caller: Caller = operation("InitMultipartFileUpload", "Storage.UploadInfo.Read"),
) -> responses.JSON:
    option = body.option or wire.UploadOption()
    key = await services(request).files.init_multipart(
        caller, spaceId, option.storage_driver, _pre_check(option)
    )
    return responses.ok(wire.InitMultipartResponse(upload_key=key))


@router.post(
    "/files/multiPartUploadInfos/query",
    response_model=wire.GetMultipartInfosResponse,
    name="GetMultipartFileUploadInfos",
)
async def get_multipart_file_upload_infos(
    request: Request,
    body: Annotated[wire.GetMultipartInfosRequest, Body()],
    caller: Caller = operation("GetMultipartFileUploadInfos", "Storage.UploadInfo.Read"),
) -> responses.JSON:
    parts = await services(request).files.part_infos(caller, body.upload_key, body.part_numbers)
    return responses.ok(
        wire.GetMultipartInfosResponse(
            multipart_header_signature_infos=[
                wire.PartInfo(part_number=n, header_signature_info=views.signature(t))
                for n, t in parts
            ]
        )
    )


@router.post(
    "/{spaceId}/dentries/{dentryId}/downloadInfos/query",
    response_model=wire.GetFileDownloadInfoResponse,
    name="GetFileDownloadInfo",
)
async def get_file_download_info(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.GetFileDownloadInfoRequest, Body()],
    caller: Caller = operation("GetFileDownloadInfo", "Storage.DownloadInfo.Read"),
) -> responses.JSON:
    option = body.option or wire.DownloadOption()
    transfer = await services(request).files.download_info(
        caller, spaceId, dentryId, option.version
    )
    return responses.ok(
        wire.GetFileDownloadInfoResponse(header_signature_info=views.signature(transfer))
    )
