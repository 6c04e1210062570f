"""The recycle bin (spec §6 H.27 to H.34)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Request

from dingstore.api import responses, views
from dingstore.api import storage_schemas as wire
from dingstore.api.routing import Caller, api_router, operation
from dingstore.service.recycle import Restored

router = api_router("/v1.0/storage/recycleBins", tags=["recycle bin"])

ITEM = "/{recycleBinId}/recycleItems/{recycleItemId}"


@router.get("", response_model=wire.GetRecycleBinResponse, name="GetRecycleBin")
async def get_recycle_bin(
    request: Request,
    query: Annotated[wire.GetRecycleBinQuery, Query()],
    caller: Caller = operation("GetRecycleBin", "Storage.RecycleBin.Read"),
) -> responses.JSON:
    found = await request.app.state.services.recycle.bin(
        caller, query.recycle_bin_scope, query.scope_id
    )
    return responses.ok(
        wire.GetRecycleBinResponse(
            recycle_bin=wire.RecycleBin(id=found.id, scope=found.scope, scope_id=found.scope_id)
        )
    )


@router.get(
    "/{recycleBinId}/recycleItems", response_model=wire.RecycleItemsPage, name="ListRecycleItems"
)
async def list_recycle_items(
    recycleBinId: str,
    request: Request,
    query: Annotated[wire.ListRecycleItemsQuery, Query()],
    caller: Caller = operation("ListRecycleItems", "Storage.RecycleBin.Read"),
) -> responses.JSON:
    page = await request.app.state.services.recycle.list(
        caller, recycleBinId, next_token=query.next_token, max_results=query.max_results
    )
    return responses.ok(
        wire.RecycleItemsPage(
            recycle_items=[views.recycle_item(i) for i in page.items], next_token=page.next_token
        )
    )


@router.get(ITEM, response_model=wire.RecycleItemResponse, name="GetRecycleItem")
async def get_recycle_item(
    recycleBinId: str,
    recycleItemId: str,
    request: Request,
    caller: Caller = operation("GetRecycleItem", "Storage.RecycleBin.Read"),
) -> responses.JSON:
    item = await request.app.state.services.recycle.get(caller, recycleBinId, recycleItemId)
    return responses.ok(wire.RecycleItemResponse(item=views.recycle_item(item)))


def _restored(result: Restored) -> wire.RestoreResponse:
    return wire.RestoreResponse(
        async_=result.task_id is not None,
        task_id=str(result.task_id) if result.task_id is not None else None,
        space_id=str(result.space_id),
        dentry_id=str(result.dentry_id),
    )


@router.post(f"{ITEM}/restore", response_model=wire.RestoreResponse, name="RestoreRecycleItem")
async def restore_recycle_item(
    recycleBinId: str,
    recycleItemId: str,
    request: Request,
    body: Annotated[wire.RestoreRequest, Body()],
    caller: Caller = operation("RestoreRecycleItem", "Storage.RecycleBin.Write"),
) -> responses.JSON:
    option = body.option or wire.ConflictOption()
    result = await request.app.state.services.recycle.restore(
        caller, recycleBinId, recycleItemId, option.conflict_strategy
    )
    return responses.ok(_restored(result))


@router.post(
    "/{recycleBinId}/recycleItems/batchRestore",
    response_model=wire.BatchRestoreResponse,
    name="RestoreRecycleItems",
)
async def restore_recycle_items(
    recycleBinId: str,
    request: Request,
    body: Annotated[wire.BatchRestoreRequest, Body()],
    caller: Caller = operation("RestoreRecycleItems", "Storage.RecycleBin.Write"),
) -> responses.JSON:
    option = body.option or wire.ConflictOption()
    items = await request.app.state.services.recycle.restore_many(
        caller, recycleBinId, body.recycle_item_ids, option.conflict_strategy
    )
    out = []
    for item in items:
        done = item.result
        is_async = done is not None and done.task_id is not None
        restored = _restored(done) if done is not None else wire.RestoreResponse()
        out.append(
            wire.RestoreResultItem(
                recycle_bin_id=recycleBinId,
                recycle_item_id=item.item_id,
                **views.outcome(
                    is_async=is_async, succeeded=done is not None, error_code=item.error_code
                ),
                task_id=restored.task_id,
                space_id=restored.space_id,
                dentry_id=restored.dentry_id,
            )
        )
    return responses.ok(wire.BatchRestoreResponse(result_items=out))


@router.delete(ITEM, response_model=wire.Success, name="DeleteRecycleItem")
async def delete_recycle_item(
    recycleBinId: str,
    recycleItemId: str,
    request: Request,
    caller: Caller = operation("DeleteRecycleItem", "Storage.RecycleBin.Write"),
) -> responses.JSON:
    await request.app.state.services.recycle.delete(caller, recycleBinId, recycleItemId)
    return responses.ok(wire.Success())


@router.post(
    "/{recycleBinId}/recycleItems/batchRemove",
    response_model=wire.Success,
    name="DeleteRecycleItems",
)
async def delete_recycle_items(
    recycleBinId: str,
    request: Request,
    body: Annotated[wire.RecycleItemIdsRequest, Body()],
    caller: Caller = operation("DeleteRecycleItems", "Storage.RecycleBin.Write"),
) -> responses.JSON:
    await request.app.state.services.recycle.delete_many(
        caller, recycleBinId, body.recycle_item_ids
    )
    return responses.ok(wire.Success())


@router.post("/{recycleBinId}/clear", response_model=wire.Success, name="ClearRecycleBin")
async def clear_recycle_bin(
    recycleBinId: str,
    request: Request,
    caller: Caller = operation("ClearRecycleBin", "Storage.RecycleBin.Write"),
) -> responses.JSON:
    await request.app.state.services.recycle.clear(caller, recycleBinId)
    return responses.ok(wire.Success())
