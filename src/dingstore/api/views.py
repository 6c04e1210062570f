"""Service results as wire objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dingstore.api.wire import batch as batch_wire
from dingstore.api.wire import common, permissions, recycle
from dingstore.blobs.base import Transfer
from dingstore.clock import iso
from dingstore.service import models, tasks
from dingstore.service.bulk import dryrun
from dingstore.service.properties import PropertyInput
from dingstore.service.recycle import Restored, RestoreItem
from dingstore.service.spaces import Usage

_EXTENSIONS = {
    "IMAGE": "jpg jpeg png gif bmp webp svg heic tif tiff",
    "VIDEO": "mp4 mov avi mkv wmv flv webm m4v",
    "AUDIO": "mp3 wav aac flac ogg m4a amr wma",
    "ARCHIVE": "zip rar 7z tar gz bz2 xz tgz",
    "DOCUMENT": "pdf doc docx xls xlsx ppt pptx txt md csv rtf odt ods odp key numbers pages",
}
_CATEGORIES = {name: set(extensions.split()) for name, extensions in _EXTENSIONS.items()}
REGION = "UNKNOWN"


def category(extension: str | None) -> str:
    ext = (extension or "").lower()
    return next((name for name, exts in _CATEGORIES.items() if ext in exts), "OTHER")


def partition(usage: Usage) -> common.Partition:
    kind = "PRIVATE" if usage.max is not None else "SHARE"
    return common.Partition(quota=common.Quota(used=usage.used, max=usage.max, type=kind))


def space(s: models.Space) -> common.Space:
    return common.Space(
        id=str(s.id),
        corp_id=s.corp_id,
        app_id=s.app_id,
        name=s.name,
        owner_type=s.owner_type,
        owner_id=s.owner_id,
        creator_id=s.creator_id,
        modifier_id=s.modifier_id,
        quota=-1 if s.quota is None else s.quota,
        used_quota=s.used_quota,
        status=s.status,
        scene=s.scene,
        scene_id=s.scene_id,
        capabilities=common.Capabilities(
            can_search=s.can_search,
            can_rename=s.can_rename,
            can_record_recent_file=s.can_record_recent_file,
        ),
        partitions=[partition(Usage(s.used_quota, s.quota))],
        create_time=iso(s.created_at) or "",
        modified_time=iso(s.modified_at) or "",
    )


def dentry(d: models.Dentry, thumbnails: Mapping[int, Any] | None = None) -> common.Dentry:
    """``thumbnails``: those asked for with ``withThumbnail`` (service/thumbnails/), by id."""
    made = (thumbnails or {}).get(d.id)
    return common.Dentry(
        id=str(d.id),
        space_id=str(d.space_id),
        parent_id=str(d.parent_id),
        type=d.type,
        name=d.name,
        size=d.size,
        path=d.path,
        version=d.version,
        status=d.status,
        extension=d.extension,
        creator_id=d.creator_id,
        modifier_id=d.modifier_id,
        create_time=iso(d.created_at) or "",
        modified_time=iso(d.modified_at) or "",
        app_properties={
            owner: [
                common.AppProperty(name=p.name, value=p.value, visibility=p.visibility) for p in ps
            ]
            for owner, ps in d.app_properties.items()
        },
        uuid=d.uuid,
        thumbnail=common.Thumbnail(width=made.width, height=made.height, url=made.url)
        if made
        else None,
        category=category(d.extension) if d.type == "FILE" else None,
    )


def task(t: models.Task) -> common.Task:
    return common.Task(
        id=str(t.id),
        status=t.status,
        total_count=t.total_count,
        success_count=t.success_count,
        fail_count=t.fail_count,
        fail_message=t.fail_message,
        begin_time=iso(t.begin_time),
        end_time=iso(t.end_time),
    )


def outcome(*, is_async: bool, succeeded: bool, error_code: str | None) -> dict[str, Any]:
    """How one item of a batch went, as its result item says it (spec §1.11): an async item
    has ``async`` and neither ``success`` nor ``errorCode``; a sync one ``success`` and, when
    it failed, its ``errorCode``."""
    if is_async:
        return {"async_": True}
    return {"async_": False, "success": succeeded, "error_code": error_code}


def recycle_bin(found: models.RecycleBin) -> recycle.RecycleBin:
    return recycle.RecycleBin(id=found.id, scope=found.scope, scope_id=found.scope_id)


def restored(result: Restored) -> recycle.RestoreResponse:
    return recycle.RestoreResponse(
        async_=result.task_id is not None,
        task_id=str(result.task_id) if result.task_id is not None else None,
        space_id=str(result.space_id),
        dentry_id=str(result.dentry_id),
    )


def restore_result(recycle_bin_id: str, item: RestoreItem) -> recycle.RestoreResultItem:
    """One item of RestoreRecycleItems, as ``outcome`` says it: where it went, unless it
    failed."""
    done = item.result
    where = restored(done) if done is not None else recycle.RestoreResponse()
    return recycle.RestoreResultItem(
        recycle_bin_id=recycle_bin_id,
        recycle_item_id=item.item_id,
        **outcome(
            is_async=bool(where.async_), succeeded=done is not None, error_code=item.error_code
        ),
        task_id=where.task_id,
        space_id=where.space_id,
        dentry_id=where.dentry_id,
    )


def recycle_item(item: models.RecycleItem) -> recycle.RecycleItem:
    return recycle.RecycleItem(
        id=str(item.id),
        space_id=str(item.space_id),
        dentry_id=str(item.dentry_id),
        size=item.size,
        type=item.type,
        original_name=item.original_name,
        original_path=item.original_path,
        operator_id=item.operator_id,
        operator_time=iso(item.operator_time) or "",
    )


def permission(p: models.Permission) -> permissions.Permission:
    return permissions.Permission(
        space_id=str(p.space_id),
        dentry_id=str(p.dentry_id),
        member=permissions.PermissionMember(
            type=p.member_type, id=p.member_id, corp_id=p.member_corp_id
        ),
        role=permissions.PermissionRole(id=p.role_id, name=p.role_id),
        duration=p.duration,
        create_time=iso(p.created_at) or "",
        modified_time=iso(p.modified_at) or "",
        operator_id=p.operator_id,
    )


def signature(t: Transfer) -> common.HeaderSignatureInfo:
    return common.HeaderSignatureInfo(
        resource_urls=[t.url],
        headers=dict(t.headers),
        expiration_seconds=t.expires_in,
        region=REGION,
    )


def property_inputs(items: list[common.AppProperty] | None) -> list[PropertyInput]:
    return [PropertyInput(p.name, p.value, p.visibility) for p in items or ()]


def dry_run(plan: dryrun.Plan) -> batch_wire.DryRunResponse:
    quota = None
    if plan.quota_space_id is not None:
        quota = batch_wire.DryRunQuota(
            space_id=str(plan.quota_space_id),
            needed_bytes=plan.quota_needed,
            available_bytes=plan.quota_available,
            fits=plan.fits,
        )
    return batch_wire.DryRunResponse(
        operation=plan.operation,
        items=[
            batch_wire.DryRunItem(
                dentry_id=i.dentry_id,
                type=i.type,
                name=i.name,
                nodes=i.nodes,
                bytes=i.bytes,
                conflict=i.conflict,
                target_name=i.target_name,
                error_code=i.error_code,
            )
            for i in plan.items
        ],
        nodes=plan.nodes,
        bytes=plan.bytes,
        quota=quota,
    )


def task_info(info: tasks.TaskInfo) -> batch_wire.TaskInfo:
    return batch_wire.TaskInfo(
        **task(info.task).model_dump(),
        kind=info.kind,
        space_id=None if info.space_id is None else str(info.space_id),
        creator_id=info.creator_id,
        create_time=iso(info.created_at) or "",
        canceled=info.canceled,
        retry_of=None if info.retry_of is None else str(info.retry_of),
    )
