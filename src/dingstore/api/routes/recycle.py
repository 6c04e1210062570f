"""The recycle bin (spec §6 H.27 to H.34)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Request

from dingstore.api import idempotent, responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import common
from dingstore.api.wire import recycle as wire

router = api_router("/v1.0/storage/recycleBins", tags=["recycle bin"])

ITEMS = "/{recycleBinId}/recycleItems"
ITEM = f"{ITEMS}/{{recycleItemId}}"
READ, WRITE = "Storage.RecycleBin.Read", "Storage.RecycleBin.Write"


def _strategy(option: common.ConflictOption | None) -> str | None:
    return option.conflict_strategy if option is not None else None


@router.get("", response_model=wire.GetRecycleBinResponse, name="GetRecycleBin")
async def get_recycle_bin(
    request: Request,
    query: Annotated[wire.GetRecycleBinQuery, Query()],
    caller: Caller = operation("GetRecycleBin", READ),
) -> responses.JSON:
    found = await services(request).recycle.bin(caller, query.recycle_bin_scope, query.scope_id)
    return responses.ok(wire.GetRecycleBinResponse(recycle_bin=views.recycle_bin(found)))


@router.get(ITEMS, response_model=wire.RecycleItemsPage, name="ListRecycleItems")
async def list_recycle_items(
    recycleBinId: str,
    request: Request,
    query: Annotated[wire.ListRecycleItemsQuery, Query()],
    caller: Caller = operation("ListRecycleItems", READ),
) -> responses.JSON:
    page = await services(request).recycle.list(
        caller, recycleBinId, next_token=query.next_token, max_results=query.max_results
    )
    items = [views.recycle_item(i) for i in page.items]
    return responses.ok(wire.RecycleItemsPage(recycle_items=items, next_token=page.next_token))


@router.get(ITEM, response_model=wire.RecycleItemResponse, name="GetRecycleItem")
async def get_recycle_item(
    recycleBinId: str,
    recycleItemId: str,
    request: Request,
    caller: Caller = operation("GetRecycleItem", READ),
) -> responses.JSON:
    item = await services(request).recycle.get(caller, recycleBinId, recycleItemId)
    return responses.ok(wire.RecycleItemResponse(item=views.recycle_item(item)))


@router.post(
    f"{ITEM}/restore",
    response_model=wire.RestoreResponse,
    name="RestoreRecycleItem",
    openapi_extra=idempotent.DOCUMENTED,
)
async def restore_recycle_item(
    recycleBinId: str,
    recycleItemId: str,
    request: Request,
    body: Annotated[wire.RestoreRequest, Body()],
    caller: Caller = operation("RestoreRecycleItem", WRITE),
) -> responses.JSON:
    async def run() -> responses.JSON:
        result = await services(request).recycle.restore(
            caller, recycleBinId, recycleItemId, _strategy(body.option)
        )
        return responses.ok(views.restored(result))

    return await idempotent.idempotent(request, caller, "RestoreRecycleItem", body, run)


@router.post(
    f"{ITEMS}/batchRestore",
    response_model=wire.BatchRestoreResponse,
    name="RestoreRecycleItems",
    openapi_extra=idempotent.DOCUMENTED,
)
async def restore_recycle_items(
    recycleBinId: str,
    request: Request,
    body: Annotated[wire.BatchRestoreRequest, Body()],
    caller: Caller = operation("RestoreRecycleItems", WRITE),
) -> responses.JSON:
    async def run() -> responses.JSON:
        items = await services(request).recycle.restore_many(
            caller, recycleBinId, body.recycle_item_ids, _strategy(body.option)
        )
        results = [views.restore_result(recycleBinId, item) for item in items]
        return responses.ok(wire.BatchRestoreResponse(result_items=results))

    return await idempotent.idempotent(request, caller, "RestoreRecycleItems", body, run)


@router.delete(
    ITEM,
    response_model=common.Success,
    name="DeleteRecycleItem",
    openapi_extra=idempotent.DOCUMENTED,
)
async def delete_recycle_item(
    recycleBinId: str,
    recycleItemId: str,
    request: Request,
    caller: Caller = operation("DeleteRecycleItem", WRITE),
) -> responses.JSON:
    async def run() -> responses.JSON:
        await services(request).recycle.delete(caller, recycleBinId, recycleItemId)
        return responses.ok(common.Success())

    return await idempotent.idempotent(request, caller, "DeleteRecycleItem", None, run)


@router.post(
    f"{ITEMS}/batchRemove",
    response_model=common.Success,
    name="DeleteRecycleItems",
    openapi_extra=idempotent.DOCUMENTED,
)
async def delete_recycle_items(
    recycleBinId: str,
    request: Request,
    body: Annotated[wire.RecycleItemIdsRequest, Body()],
    caller: Caller = operation("DeleteRecycleItems", WRITE),
) -> responses.JSON:
    async def run() -> responses.JSON:
        await services(request).recycle.delete_many(caller, recycleBinId, body.recycle_item_ids)
        return responses.ok(common.Success())

    return await idempotent.idempotent(request, caller, "DeleteRecycleItems", body, run)


@router.post(
    "/{recycleBinId}/clear",
    response_model=common.Success,
    name="ClearRecycleBin",
    openapi_extra=idempotent.DOCUMENTED,
)
async def clear_recycle_bin(
    recycleBinId: str,
    request: Request,
    caller: Caller = operation("ClearRecycleBin", WRITE),
) -> responses.JSON:
    async def run() -> responses.JSON:
        await services(request).recycle.clear(caller, recycleBinId)
        return responses.ok(common.Success())

    return await idempotent.idempotent(request, caller, "ClearRecycleBin", None, run)
