"""Batch copy, move and delete (spec §6 E.19 to E.21)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Body, Request

from dingstore import errors
from dingstore.api import idempotent, responses, views
from dingstore.api.routes.dentries import preserves
from dingstore.api.routing import Caller, api_router, operation, query_value, services
from dingstore.api.wire import batch as wire
from dingstore.api.wire import common
from dingstore.service.bulk.common import BatchItem, Target

router = api_router("/v1.0/storage/spaces/{spaceId}/dentries", tags=["batch operations"])


def dry_run(request: Request) -> bool:
    """dingstore's ``dryRun`` query parameter (docs/tasks.md#dry-run): ``true`` or ``false``."""
    value = query_value(request, "dryRun")
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise errors.param_error("dryRun", "dryRun must be true or false")


def _items(space_id: str, items: Sequence[BatchItem], *, targets: bool) -> responses.JSON:
    out = []
    for item in items:
        done = item.result
        dentry = done.dentry if done else None
        is_async = done is not None and done.task_id is not None
        out.append(
            wire.BatchResultItem(
                space_id=space_id,
                dentry_id=item.dentry_id,
                **views.outcome(
                    is_async=is_async, succeeded=done is not None, error_code=item.error_code
                ),
                task_id=str(done.task_id) if is_async and done else None,
                target_space_id=str(dentry.space_id) if targets and dentry else None,
                target_dentry_id=str(dentry.id) if targets and dentry else None,
            )
        )
    return responses.ok(wire.BatchResponse(result_items=out))


@router.post(
    "/batchCopy",
    response_model=wire.BatchResponse,
    name="CopyDentries",
    openapi_extra=idempotent.DOCUMENTED_WITH_DRY_RUN,
)
async def copy_dentries(
    spaceId: str,
    request: Request,
    body: Annotated[wire.BatchCopyRequest, Body()],
    caller: Caller = operation("CopyDentries", "Storage.File.Write"),
) -> responses.JSON:
    option = body.option or common.ConflictOption()
    target = body.target_space_id, body.target_folder_id, option.conflict_strategy
    if dry_run(request):
        plan = await services(request).dentries.dry_run(
            caller, "copy", spaceId, body.dentry_ids, target=Target(*target)
        )
        return responses.ok(views.dry_run(plan))

    async def run() -> responses.JSON:
        items = await services(request).dentries.copy_many(
            caller, spaceId, body.dentry_ids, *target
        )
        return _items(spaceId, items, targets=True)

    return await idempotent.idempotent(request, caller, "CopyDentries", body, run)


@router.post(
    "/batchMove",
    response_model=wire.BatchResponse,
    name="MoveDentries",
    openapi_extra=idempotent.DOCUMENTED_WITH_DRY_RUN,
)
async def move_dentries(
    spaceId: str,
    request: Request,
    body: Annotated[wire.BatchMoveRequest, Body()],
    caller: Caller = operation("MoveDentries", "Storage.File.Write"),
) -> responses.JSON:
    option = body.option or common.MoveOption()
    target = body.target_space_id, body.target_folder_id, option.conflict_strategy
    if dry_run(request):
        plan = await services(request).dentries.dry_run(
            caller, "move", spaceId, body.dentry_ids, target=Target(*target)
        )
        return responses.ok(views.dry_run(plan))

    async def run() -> responses.JSON:
        items = await services(request).dentries.move_many(
            caller, spaceId, body.dentry_ids, *target, preserve_permissions=preserves(option)
        )
        return _items(spaceId, items, targets=True)

    return await idempotent.idempotent(request, caller, "MoveDentries", body, run)


@router.post(
    "/batchRemove",
    response_model=wire.BatchResponse,
    name="DeleteDentries",
    openapi_extra=idempotent.DOCUMENTED_WITH_DRY_RUN,
)
async def delete_dentries(
    spaceId: str,
    request: Request,
    body: Annotated[wire.BatchRemoveRequest, Body()],
    caller: Caller = operation("DeleteDentries", "Storage.File.Write"),
) -> responses.JSON:
    option = body.option or wire.DeleteOption()
    if dry_run(request):
        plan = await services(request).dentries.dry_run(
            caller,
            "delete",
            spaceId,
            body.dentry_ids,
            to_recycle_bin=bool(option.to_recycle_bin),
        )
        return responses.ok(views.dry_run(plan))

    async def run() -> responses.JSON:
        items = await services(request).dentries.delete_many(
            caller, spaceId, body.dentry_ids, to_recycle_bin=bool(option.to_recycle_bin)
        )
        return _items(spaceId, items, targets=False)

    return await idempotent.idempotent(request, caller, "DeleteDentries", body, run)
