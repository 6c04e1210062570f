"""The storage operations as tests call them: one ``Storage`` bound to a live server, an access
token and an operator (unionId), with a method per SDK call that returns the typed response body
(or the part of it tests look at).

Every call goes through the official SDK; failures raise the SDK's ``TeaException`` (catch it
with ``tests.conftest.sdk_error``). ``raw`` and the ``raw_*`` helpers read exact JSON bodies over
plain HTTP, for what the SDK model hides: keys left out of a body, and ``appProperties``, whose
keys the SDK loses (spec §8.2).

    st = Storage.of(server, sdk, tenant)
    space = st.new_space(quota=1000)
    folder = st.add_folder(space.id, "docs")
    file = st.upload(space.id, b"hello", "a.txt", parent_id=folder.id)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import httpx
from alibabacloud_dingtalk.storage_1_0 import models as m

from dingstore.service import models
from tests import polling
from tests.conftest import Tenant
from tests.live import LiveServer, Sdk, http

Member = tuple[str, str] | tuple[str, str, str | None]
"""A permission member as (type, id) or (type, id, corpId)."""
Property = tuple[str, str, str]
"""An app property as (name, value, visibility)."""
PartTarget: TypeAlias = (
    m.GetMultipartFileUploadInfosResponseBodyMultipartHeaderSignatureInfosHeaderSignatureInfo
)
"""Where to PUT one part of a multipart upload: ``resource_urls`` and ``headers``."""

_scenes = itertools.count(1)
_SNAKE = {
    "AddPermission": "add_permission_with_options",
    "UpdatePermission": "update_permission_with_options",
}


class Storage:
    def __init__(self, server: LiveServer, sdk: Sdk, token: str, union_id: str) -> None:
        self.server = server
        self.sdk = sdk
        self.token = token
        self.union_id = union_id

    @classmethod
    def of(cls, server: LiveServer, sdk: Sdk, tenant: Tenant) -> Storage:
        """The tenant's app, acting as the tenant's admin."""
        return cls(server, sdk, tenant.token, tenant.admin_id)

    def as_user(self, union_id: str) -> Storage:
        """The same app acting for another operator."""
        return Storage(self.server, self.sdk, self.token, union_id)

    def _h(self, headers: type[Any]) -> Any:
        return headers(x_acs_dingtalk_access_token=self.token)

    @property
    def _api(self) -> Any:
        return self.sdk.storage

    @property
    def _rt(self) -> Any:
        return self.sdk.runtime

    # --- A. org and app ---------------------------------------------------------------------

    def get_org(self, corp_id: str) -> m.GetOrgResponseBodyOrg:
        request = m.GetOrgRequest(union_id=self.union_id)
        return self._api.get_org_with_options(  # type: ignore[no-any-return]
            corp_id, request, self._h(m.GetOrgHeaders), self._rt
        ).body.org

    def current_app(self) -> m.GetCurrentAppResponseBodyApp:
        request = m.GetCurrentAppRequest(union_id=self.union_id)
        return self._api.get_current_app_with_options(  # type: ignore[no-any-return]
            request, self._h(m.GetCurrentAppHeaders), self._rt
        ).body.app

    # --- B. spaces ----------------------------------------------------------------------------

    def add_space(
        self,
        *,
        name: str | None = None,
        quota: int | None = None,
        scene: str | None = None,
        scene_id: str | None = None,
        owner_type: str | None = None,
        can_search: bool | None = None,
        can_rename: bool | None = None,
        can_record_recent_file: bool | None = None,
    ) -> m.AddSpaceResponseBodySpace:
        """AddSpace with exactly the options given (none: the default scene's space)."""
        caps = None
        if (can_search, can_rename, can_record_recent_file) != (None, None, None):
            caps = m.AddSpaceRequestOptionCapabilities(
                can_search=can_search,
                can_rename=can_rename,
                can_record_recent_file=can_record_recent_file,
            )
        option = m.AddSpaceRequestOption(
            name=name,
            quota=quota,
            scene=scene,
            scene_id=scene_id,
            owner_type=owner_type,
            capabilities=caps,
        )
        request = m.AddSpaceRequest(union_id=self.union_id, option=option)
        return self._api.add_space_with_options(  # type: ignore[no-any-return]
            request, self._h(m.AddSpaceHeaders), self._rt
        ).body.space

    def new_space(self, *, quota: int | None = None, **options: Any) -> m.AddSpaceResponseBodySpace:
        """A space of its own (a sceneId no other call of this process used)."""
        options.setdefault("scene", "tests")
        options.setdefault("scene_id", f"s{next(_scenes)}")
        return self.add_space(quota=quota, **options)

    def get_space(self, space_id: str) -> m.GetSpaceResponseBodySpace:
        request = m.GetSpaceRequest(union_id=self.union_id)
        return self._api.get_space_with_options(  # type: ignore[no-any-return]
            space_id, request, self._h(m.GetSpaceHeaders), self._rt
        ).body.space

    def used_quota(self, space_id: str) -> int:
        return int(self.get_space(space_id).used_quota)

    # --- C. dentries --------------------------------------------------------------------------

    def add_folder(
        self,
        space_id: str,
        name: str,
        parent_id: str = "0",
        *,
        conflict_strategy: str | None = None,
        app_properties: Sequence[Property] | None = None,
    ) -> m.AddFolderResponseBodyDentry:
        option = None
        if conflict_strategy is not None or app_properties is not None:
            option = m.AddFolderRequestOption(
                conflict_strategy=conflict_strategy,
                app_properties=None
                if app_properties is None
                else [
                    m.AddFolderRequestOptionAppProperties(name=n, value=v, visibility=vis)
                    for n, v, vis in app_properties
                ],
            )
        request = m.AddFolderRequest(union_id=self.union_id, name=name, option=option)
        return self._api.add_folder_with_options(  # type: ignore[no-any-return]
            space_id, parent_id, request, self._h(m.AddFolderHeaders), self._rt
        ).body.dentry

    def get_dentry(
        self,
        space_id: str,
        dentry_id: str,
        *,
        app_ids: list[str] | None = None,
        with_thumbnail: bool | None = None,
    ) -> m.GetDentryResponseBodyDentry:
        option = None
        if app_ids is not None or with_thumbnail is not None:
            option = m.GetDentryRequestOption(
                app_ids_for_app_properties=app_ids, with_thumbnail=with_thumbnail
            )
        request = m.GetDentryRequest(union_id=self.union_id, option=option)
        return self._api.get_dentry_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.GetDentryHeaders), self._rt
        ).body.dentry

    def get_dentries(
        self,
        space_id: str,
        dentry_ids: list[str],
        *,
        app_ids: list[str] | None = None,
        with_thumbnail: bool | None = None,
    ) -> list[m.GetDentriesResponseBodyResultItems]:
        option = None
        if app_ids is not None or with_thumbnail is not None:
            option = m.GetDentriesRequestOption(
                app_ids_for_app_properties=app_ids, with_thumbnail=with_thumbnail
            )
        request = m.GetDentriesRequest(union_id=self.union_id, dentry_ids=dentry_ids, option=option)
        return self._api.get_dentries_with_options(  # type: ignore[no-any-return]
            space_id, request, self._h(m.GetDentriesHeaders), self._rt
        ).body.result_items

    def list_page(
        self,
        space_id: str,
        parent_id: str | None = "0",
        *,
        next_token: str | None = None,
        max_results: int | None = None,
        order_by: str | None = None,
        order: str | None = None,
        with_thumbnail: bool | None = None,
    ) -> m.ListDentriesResponseBody:
        """One page of ListDentries."""
        request = m.ListDentriesRequest(
            union_id=self.union_id,
            parent_id=parent_id,
            next_token=next_token,
            max_results=max_results,
            order_by=order_by,
            order=order,
            with_thumbnail=with_thumbnail,
        )
        return self._api.list_dentries_with_options(  # type: ignore[no-any-return]
            space_id, request, self._h(m.ListDentriesHeaders), self._rt
        ).body

    def list_dentries(
        self, space_id: str, parent_id: str = "0", *, max_results: int | None = None, **kw: Any
    ) -> list[m.ListDentriesResponseBodyDentries]:
        """Every child of the folder, following ``nextToken`` to the last page (each page is
        checked to hold at most ``max_results`` and, but for the last, to be full)."""
        found: list[m.ListDentriesResponseBodyDentries] = []
        token = None
        for _ in range(10_000):
            page = self.list_page(
                space_id, parent_id, next_token=token, max_results=max_results, **kw
            )
            items = page.dentries or []
            if max_results is not None:
                assert len(items) <= max_results
                assert not page.next_token or len(items) == max_results
            found.extend(items)
            token = page.next_token
            if not token:
                return found
        raise AssertionError("ListDentries never reached its last page")

    def list_all_page(
        self,
        space_id: str,
        *,
        next_token: str | None = None,
        max_results: int | None = None,
        order: str | None = None,
        with_thumbnail: bool | None = None,
    ) -> m.ListAllDentriesResponseBody:
        """One page of ListAllDentries."""
        option = m.ListAllDentriesRequestOption(
            next_token=next_token,
            max_results=max_results,
            order=order,
            with_thumbnail=with_thumbnail,
        )
        request = m.ListAllDentriesRequest(union_id=self.union_id, option=option)
        return self._api.list_all_dentries_with_options(  # type: ignore[no-any-return]
            space_id, request, self._h(m.ListAllDentriesHeaders), self._rt
        ).body

    def list_all(
        self, space_id: str, *, max_results: int | None = None, **kw: Any
    ) -> list[m.ListAllDentriesResponseBodyDentries]:
        """Every file and folder of the space, following ``nextToken`` to the last page."""
        found: list[m.ListAllDentriesResponseBodyDentries] = []
        token = None
        for _ in range(10_000):
            page = self.list_all_page(space_id, next_token=token, max_results=max_results, **kw)
            items = page.dentries or []
            if max_results is not None:
                assert len(items) <= max_results
            found.extend(items)
            token = page.next_token
            if not token:
                return found
        raise AssertionError("ListAllDentries never reached its last page")

    def rename(
        self, space_id: str, dentry_id: str, new_name: str
    ) -> m.RenameDentryResponseBodyDentry:
        request = m.RenameDentryRequest(union_id=self.union_id, new_name=new_name)
        return self._api.rename_dentry_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.RenameDentryHeaders), self._rt
        ).body.dentry

    def copy(
        self,
        space_id: str,
        dentry_id: str,
        target_space_id: str,
        target_folder_id: str = "0",
        *,
        conflict_strategy: str | None = None,
    ) -> m.CopyDentryResponseBody:
        option = None
        if conflict_strategy is not None:
            option = m.CopyDentryRequestOption(conflict_strategy=conflict_strategy)
        request = m.CopyDentryRequest(
            union_id=self.union_id,
            target_space_id=target_space_id,
            target_folder_id=target_folder_id,
            option=option,
        )
        return self._api.copy_dentry_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.CopyDentryHeaders), self._rt
        ).body

    def move(
        self,
        space_id: str,
        dentry_id: str,
        target_space_id: str,
        target_folder_id: str = "0",
        *,
        conflict_strategy: str | None = None,
        preserve_permissions: bool | None = None,
    ) -> m.MoveDentryResponseBody:
        option = None
        if conflict_strategy is not None or preserve_permissions is not None:
            option = m.MoveDentryRequestOption(
                conflict_strategy=conflict_strategy, preseve_permissions=preserve_permissions
            )
        request = m.MoveDentryRequest(
            union_id=self.union_id,
            target_space_id=target_space_id,
            target_folder_id=target_folder_id,
            option=option,
        )
        return self._api.move_dentry_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.MoveDentryHeaders), self._rt
        ).body

    def delete(
        self, space_id: str, dentry_id: str, *, to_recycle_bin: bool | None = None
    ) -> m.DeleteDentryResponseBody:
        request = m.DeleteDentryRequest(union_id=self.union_id, to_recycle_bin=to_recycle_bin)
        return self._api.delete_dentry_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.DeleteDentryHeaders), self._rt
        ).body

    # --- D. upload and download ---------------------------------------------------------------

    def upload_info(
        self,
        space_id: str,
        *,
        multipart: bool = False,
        pre_check: m.GetFileUploadInfoRequestOptionPreCheckParam | None = None,
        storage_driver: str | None = None,
    ) -> m.GetFileUploadInfoResponseBody:
        option = None
        if pre_check is not None or storage_driver is not None:
            option = m.GetFileUploadInfoRequestOption(
                pre_check_param=pre_check, storage_driver=storage_driver
            )
        request = m.GetFileUploadInfoRequest(
            union_id=self.union_id, protocol="HEADER_SIGNATURE", multipart=multipart, option=option
        )
        return self._api.get_file_upload_info_with_options(  # type: ignore[no-any-return]
            space_id, request, self._h(m.GetFileUploadInfoHeaders), self._rt
        ).body

    @staticmethod
    def put(info: m.GetFileUploadInfoResponseBody, data: bytes) -> httpx.Response:
        """PUT ``data`` to the first resource URL with exactly the headers the server gave."""
        signature = info.header_signature_info
        return http.put(signature.resource_urls[0], content=data, headers=signature.headers)

    def part_infos(self, upload_key: str, part_numbers: Sequence[int]) -> dict[int, PartTarget]:
        """GetMultipartFileUploadInfos: part number → where to PUT that part."""
        request = m.GetMultipartFileUploadInfosRequest(
            union_id=self.union_id, upload_key=upload_key, part_numbers=list(part_numbers)
        )
        infos = self._api.get_multipart_file_upload_infos_with_options(
            request, self._h(m.GetMultipartFileUploadInfosHeaders), self._rt
        ).body.multipart_header_signature_infos
        return {info.part_number: info.header_signature_info for info in infos}

    def commit(
        self,
        space_id: str,
        upload_key: str,
        name: str,
        parent_id: str = "0",
        *,
        conflict_strategy: str | None = None,
        size: int | None = None,
        app_properties: Sequence[Property] | None = None,
        overwrite_dentry_id: str | None = None,
    ) -> m.CommitFileResponseBodyDentry:
        option = None
        if (conflict_strategy, size, app_properties) != (None, None, None):
            option = m.CommitFileRequestOption(
                conflict_strategy=conflict_strategy,
                size=size,
                app_properties=None
                if app_properties is None
                else [
                    m.CommitFileRequestOptionAppProperties(name=n, value=v, visibility=vis)
                    for n, v, vis in app_properties
                ],
            )
        request = m.CommitFileRequest(
            union_id=self.union_id,
            upload_key=upload_key,
            name=name,
            parent_id=parent_id,
            overwrite_dentry_id=overwrite_dentry_id,
            option=option,
        )
        return self._api.commit_file_with_options(  # type: ignore[no-any-return]
            space_id, request, self._h(m.CommitFileHeaders), self._rt
        ).body.dentry

    def upload(
        self, space_id: str, data: bytes, name: str, parent_id: str = "0", **commit: Any
    ) -> m.CommitFileResponseBodyDentry:
        """The three steps of a single-part upload: GetFileUploadInfo, PUT, CommitFile."""
        info = self.upload_info(space_id)
        response = self.put(info, data)
        assert response.status_code == 200, response.text
        return self.commit(space_id, info.upload_key, name, parent_id, **commit)

    def download_info(
        self, space_id: str, dentry_id: str, *, version: int | None = None
    ) -> m.GetFileDownloadInfoResponseBody:
        option = None if version is None else m.GetFileDownloadInfoRequestOption(version=version)
        request = m.GetFileDownloadInfoRequest(union_id=self.union_id, option=option)
        return self._api.get_file_download_info_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.GetFileDownloadInfoHeaders), self._rt
        ).body

    def download(self, space_id: str, dentry_id: str, *, version: int | None = None) -> bytes:
        """A file's content (GetFileDownloadInfo, then GET with the given headers)."""
        signature = self.download_info(space_id, dentry_id, version=version).header_signature_info
        response = http.get(signature.resource_urls[0], headers=signature.headers)
        assert response.status_code == 200, response.text
        return response.content

    # --- F. versions --------------------------------------------------------------------------

    def versions_page(
        self,
        space_id: str,
        dentry_id: str,
        *,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> m.ListDentryVersionsResponseBody:
        request = m.ListDentryVersionsRequest(
            union_id=self.union_id, next_token=next_token, max_results=max_results
        )
        return self._api.list_dentry_versions_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.ListDentryVersionsHeaders), self._rt
        ).body

    def versions(
        self, space_id: str, dentry_id: str, *, max_results: int | None = None
    ) -> list[m.ListDentryVersionsResponseBodyDentries]:
        """Every version of a file, following ``nextToken``."""
        found: list[m.ListDentryVersionsResponseBodyDentries] = []
        token = None
        for _ in range(10_000):
            page = self.versions_page(
                space_id, dentry_id, next_token=token, max_results=max_results
            )
            found.extend(page.dentries or [])
            token = page.next_token
            if not token:
                return found
        raise AssertionError("ListDentryVersions never reached its last page")

    def revert(self, space_id: str, dentry_id: str, version: int) -> None:
        """RevertDentryVersion: a new version with ``version``'s content."""
        request = m.RevertDentryVersionRequest(union_id=self.union_id)
        self._api.revert_dentry_version_with_options(
            space_id,
            dentry_id,
            str(version),
            request,
            self._h(m.RevertDentryVersionHeaders),
            self._rt,
        )

    # --- H. recycle bin ----------------------------------------------------------------------

    def get_recycle_bin(
        self, scope_id: str | None, scope: str | None = "ORG"
    ) -> m.GetRecycleBinResponseBodyRecycleBin:
        """GetRecycleBin; the org's bin has ``scope_id`` = its corpId."""
        request = m.GetRecycleBinRequest(
            union_id=self.union_id, recycle_bin_scope=scope, scope_id=scope_id
        )
        return self._api.get_recycle_bin_with_options(  # type: ignore[no-any-return]
            request, self._h(m.GetRecycleBinHeaders), self._rt
        ).body.recycle_bin

    def recycle_page(
        self, bin_id: str, *, next_token: str | None = None, max_results: int | None = None
    ) -> m.ListRecycleItemsResponseBody:
        """One page of ListRecycleItems."""
        request = m.ListRecycleItemsRequest(
            union_id=self.union_id, next_token=next_token, max_results=max_results
        )
        return self._api.list_recycle_items_with_options(  # type: ignore[no-any-return]
            bin_id, request, self._h(m.ListRecycleItemsHeaders), self._rt
        ).body

    def recycle_items(
        self, bin_id: str, *, max_results: int | None = None
    ) -> list[m.ListRecycleItemsResponseBodyRecycleItems]:
        """Every item of the bin, following ``nextToken`` to the last page (each page checked
        as ``every_page`` does)."""
        return every_page(
            lambda token: self.recycle_page(bin_id, next_token=token, max_results=max_results),
            lambda page: page.recycle_items,
            max_results,
        )

    def get_recycle_item(self, bin_id: str, item_id: str) -> m.GetRecycleItemResponseBodyItem:
        request = m.GetRecycleItemRequest(union_id=self.union_id)
        return self._api.get_recycle_item_with_options(  # type: ignore[no-any-return]
            bin_id, item_id, request, self._h(m.GetRecycleItemHeaders), self._rt
        ).body.item

    def restore_recycle_item(
        self, bin_id: str, item_id: str, *, conflict_strategy: str | None = None
    ) -> m.RestoreRecycleItemResponseBody:
        option = None
        if conflict_strategy is not None:
            option = m.RestoreRecycleItemRequestOption(conflict_strategy=conflict_strategy)
        request = m.RestoreRecycleItemRequest(union_id=self.union_id, option=option)
        return self._api.restore_recycle_item_with_options(  # type: ignore[no-any-return]
            bin_id, item_id, request, self._h(m.RestoreRecycleItemHeaders), self._rt
        ).body

    def restore_recycle_items(
        self, bin_id: str, item_ids: list[str] | None, *, conflict_strategy: str | None = None
    ) -> list[m.RestoreRecycleItemsResponseBodyResultItems]:
        option = None
        if conflict_strategy is not None:
            option = m.RestoreRecycleItemsRequestOption(conflict_strategy=conflict_strategy)
        request = m.RestoreRecycleItemsRequest(
            union_id=self.union_id, recycle_item_ids=item_ids, option=option
        )
        return self._api.restore_recycle_items_with_options(  # type: ignore[no-any-return]
            bin_id, request, self._h(m.RestoreRecycleItemsHeaders), self._rt
        ).body.result_items

    def delete_recycle_item(self, bin_id: str, item_id: str) -> m.DeleteRecycleItemResponseBody:
        request = m.DeleteRecycleItemRequest(union_id=self.union_id)
        return self._api.delete_recycle_item_with_options(  # type: ignore[no-any-return]
            bin_id, item_id, request, self._h(m.DeleteRecycleItemHeaders), self._rt
        ).body

    def delete_recycle_items(
        self, bin_id: str, item_ids: list[str] | None
    ) -> m.DeleteRecycleItemsResponseBody:
        request = m.DeleteRecycleItemsRequest(union_id=self.union_id, recycle_item_ids=item_ids)
        return self._api.delete_recycle_items_with_options(  # type: ignore[no-any-return]
            bin_id, request, self._h(m.DeleteRecycleItemsHeaders), self._rt
        ).body

    def clear_recycle_bin(self, bin_id: str) -> m.ClearRecycleBinResponseBody:
        request = m.ClearRecycleBinRequest(union_id=self.union_id)
        return self._api.clear_recycle_bin_with_options(  # type: ignore[no-any-return]
            bin_id, request, self._h(m.ClearRecycleBinHeaders), self._rt
        ).body

    # --- I. permissions ------------------------------------------------------------------------

    def add_permission(
        self,
        space_id: str,
        dentry_id: str,
        role_id: str | None,
        members: Sequence[Member] | None,
        *,
        duration: int | None = None,
    ) -> m.AddPermissionResponseBody:
        """AddPermission of ``role_id`` to ``members`` on the node (``"0"``: the whole space)."""
        return self._grant("AddPermission", space_id, dentry_id, role_id, members, duration)

    def update_permission(
        self,
        space_id: str,
        dentry_id: str,
        role_id: str | None,
        members: Sequence[Member] | None,
        *,
        duration: int | None = None,
    ) -> m.UpdatePermissionResponseBody:
        return self._grant("UpdatePermission", space_id, dentry_id, role_id, members, duration)

    def _grant(
        self,
        action: str,
        space_id: str,
        dentry_id: str,
        role_id: str | None,
        members: Sequence[Member] | None,
        duration: int | None,
    ) -> Any:
        """AddPermission or UpdatePermission: the same request shape, model classes named
        after the action."""
        option = None if duration is None else getattr(m, f"{action}RequestOption")(duration)
        request = getattr(m, f"{action}Request")(
            union_id=self.union_id,
            role_id=role_id,
            members=_members(getattr(m, f"{action}RequestMembers"), members),
            option=option,
        )
        call = getattr(self._api, _SNAKE[action])
        headers = self._h(getattr(m, f"{action}Headers"))
        return call(space_id, dentry_id, request, headers, self._rt).body

    def delete_permission(
        self, space_id: str, dentry_id: str, role_id: str | None, members: Sequence[Member] | None
    ) -> m.DeletePermissionResponseBody:
        request = m.DeletePermissionRequest(
            union_id=self.union_id,
            role_id=role_id,
            members=_members(m.DeletePermissionRequestMembers, members),
        )
        return self._api.delete_permission_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.DeletePermissionHeaders), self._rt
        ).body

    def permissions_page(
        self,
        space_id: str,
        dentry_id: str,
        *,
        roles: list[str] | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> m.ListPermissionsResponseBody:
        """One page of ListPermissions."""
        option = m.ListPermissionsRequestOption(
            filter_role_ids=roles, next_token=next_token, max_results=max_results
        )
        request = m.ListPermissionsRequest(union_id=self.union_id, option=option)
        return self._api.list_permissions_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.ListPermissionsHeaders), self._rt
        ).body

    def permissions(
        self,
        space_id: str,
        dentry_id: str,
        *,
        roles: list[str] | None = None,
        max_results: int | None = None,
    ) -> list[m.ListPermissionsResponseBodyPermissions]:
        """Every grant ListPermissions shows on the node, following ``nextToken``."""
        return every_page(
            lambda token: self.permissions_page(
                space_id, dentry_id, roles=roles, next_token=token, max_results=max_results
            ),
            lambda page: page.permissions,
            max_results,
        )

    def batch_query_roles(self, space_id: str, dentry_ids: list[str]) -> dict[str, list[str]]:
        """BatchQueryRoles: the operator's role ids on each dentry, read from the raw body (the
        SDK model loses ``roleMap``'s keys, spec §8.2) after checking the SDK call succeeds."""
        request = m.BatchQueryRolesRequest(union_id=self.union_id, dentry_id_list=dentry_ids)
        self._api.batch_query_roles_with_options(
            space_id, request, self._h(m.BatchQueryRolesHeaders), self._rt
        )
        body = self.raw_ok(
            "POST",
            f"/spaces/{space_id}/dentries/permissions/roles/batchQuery",
            params={"dentryIdList": json.dumps(dentry_ids)},
        )
        return {k: [r["id"] for r in v] for k, v in body["roleMap"].items()}

    # --- K. thumbnails -------------------------------------------------------------------------

    def thumbnails(
        self, space_id: str, dentry_ids: list[str]
    ) -> list[m.GetDentryThumbnailsResponseBodyResultItems]:
        """GetDentryThumbnails: one result item per id, in order."""
        request = m.GetDentryThumbnailsRequest(union_id=self.union_id, dentry_ids=dentry_ids)
        return self._api.get_dentry_thumbnails_with_options(  # type: ignore[no-any-return]
            space_id, request, self._h(m.GetDentryThumbnailsHeaders), self._rt
        ).body.result_items

    def wait_thumbnail(
        self, space_id: str, dentry_id: str, timeout: float = 30
    ) -> m.GetDentryThumbnailsResponseBodyResultItems:
        """Poll GetDentryThumbnails until the file's item is no longer ``thumbnailNotExist``."""

        def made() -> m.GetDentryThumbnailsResponseBodyResultItems | None:
            (item,) = self.thumbnails(space_id, [dentry_id])
            return None if item.error_code == "thumbnailNotExist" else item

        return polling.until(made, timeout=timeout, what=f"{dentry_id}'s thumbnail")

    # --- E. tasks -----------------------------------------------------------------------------

    def get_task(self, task_id: str) -> m.GetTaskResponseBodyTask:
        return self.sdk.get_task(self.token, task_id, self.union_id).body.task

    def wait_task(self, task_id: str, timeout: float = 30) -> m.GetTaskResponseBodyTask:
        """Poll GetTask until the task is SUCCESS or FAIL; return it."""

        def ended() -> m.GetTaskResponseBodyTask | None:
            task = self.get_task(task_id)
            return task if task.status in ("SUCCESS", "FAIL") else None

        return polling.until(ended, timeout=timeout, what=f"task {task_id}'s end")

    # --- J. events ----------------------------------------------------------------------------

    def subscribe_event(self, scope: str, scope_id: str) -> m.SubscribeEventResponseBody:
        request = m.SubscribeEventRequest(scope=scope, scope_id=scope_id, union_id=self.union_id)
        return self._api.subscribe_event_with_options(  # type: ignore[no-any-return]
            request, self._h(m.SubscribeEventHeaders), self._rt
        ).body

    def unsubscribe_event(self, scope: str, scope_id: str) -> m.UnsubscribeEventResponseBody:
        request = m.UnsubscribeEventRequest(scope=scope, scope_id=scope_id, union_id=self.union_id)
        return self._api.unsubscribe_event_with_options(  # type: ignore[no-any-return]
            request, self._h(m.UnsubscribeEventHeaders), self._rt
        ).body

    def pull_events_raw(self, *, timeout: float = 60, **params: Any) -> httpx.Response:
        """dingstore's pull feed (not an SDK operation): ``GET /v1.0/storage/events`` with this
        token alone, ``params`` as given (``cursor``, ``maxResults``, ``waitSeconds``)."""
        return http.get(
            f"{self.server.url}/v1.0/storage/events",
            params=params,
            headers={"x-acs-dingtalk-access-token": self.token},
            timeout=timeout,
        )

    def pull_events(self, **params: Any) -> dict[str, Any]:
        """The feed's body, for a call that must succeed."""
        response = self.pull_events_raw(**params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, dict)
        return body

    # --- K. open info ---------------------------------------------------------------------

    def open_info(
        self,
        space_id: str,
        dentry_id: str,
        *,
        version: int | None = None,
        type: str | None = None,
        water_mark: bool | None = None,
        check_login: bool | None = None,
    ) -> m.GetDentryOpenInfoResponseBody:
        """GetDentryOpenInfo with exactly the options given."""
        option = None
        if (version, type, water_mark, check_login) != (None, None, None, None):
            option = m.GetDentryOpenInfoRequestOption(
                version=version, type=type, water_mark=water_mark, check_login=check_login
            )
        request = m.GetDentryOpenInfoRequest(union_id=self.union_id, option=option)
        return self._api.get_dentry_open_info_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.GetDentryOpenInfoHeaders), self._rt
        ).body

    def register_open_info(
        self, space_id: str, dentry_id: str, provider: str, open_infos: Sequence[tuple[str, str]]
    ) -> bool:
        """RegisterOpenInfo: ``open_infos`` as (openType, url) pairs; its ``success``."""
        request = m.RegisterOpenInfoRequest(
            union_id=self.union_id,
            provider=provider,
            open_infos=[
                m.RegisterOpenInfoRequestOpenInfos(open_type=t, url=u) for t, u in open_infos
            ],
        )
        return self._api.register_open_info_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.RegisterOpenInfoHeaders), self._rt
        ).body.success

    def web_office_url(self, space_id: str, dentry_id: str) -> m.GetWebOfficeUrlResponseBody:
        """GetWebOfficeUrl: the editor URL and its access and refresh tokens."""
        request = m.GetWebOfficeUrlRequest(union_id=self.union_id)
        return self._api.get_web_office_url_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.GetWebOfficeUrlHeaders), self._rt
        ).body

    def refresh_web_office_token(
        self, space_id: str, dentry_id: str, access_token: str, refresh_token: str
    ) -> m.RefreshWebOfficeTokenResponseBody:
        """RefreshWebOfficeToken: a new token pair for the old one."""
        request = m.RefreshWebOfficeTokenRequest(
            union_id=self.union_id,
            web_office_access_token=access_token,
            web_office_refresh_token=refresh_token,
        )
        return self._api.refresh_web_office_token_with_options(  # type: ignore[no-any-return]
            space_id, dentry_id, request, self._h(m.RefreshWebOfficeTokenHeaders), self._rt
        ).body

    # --- raw HTTP -----------------------------------------------------------------------------

    def raw(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """A storage call over plain HTTP: ``path`` below ``/v1.0/storage``, with this token
        and ``unionId``."""
        return http.request(
            method,
            f"{self.server.url}/v1.0/storage{path}",
            params={"unionId": self.union_id, **(params or {})},
            json=json,
            headers={"x-acs-dingtalk-access-token": self.token},
        )

    def raw_ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        """The JSON body of a call that must succeed."""
        response = self.raw(method, path, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, dict)
        return body

    def raw_dentry(self, space_id: str, dentry_id: str) -> dict[str, Any]:
        """GetDentry's ``dentry`` exactly as sent."""
        body = self.raw_ok("POST", f"/spaces/{space_id}/dentries/{dentry_id}/query", json={})
        return body["dentry"]  # type: ignore[no-any-return]

    def raw_children(self, space_id: str, parent_id: str = "0") -> list[dict[str, Any]]:
        """ListDentries' ``dentries`` exactly as sent (every page)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"parentId": parent_id, "maxResults": 50}
        while True:
            body = self.raw_ok("GET", f"/spaces/{space_id}/dentries", params=params)
            found.extend(body["dentries"])
            if not body.get("nextToken"):
                return found
            params["nextToken"] = body["nextToken"]

    # --- the service layer, for fast set-up ---------------------------------------------------

    def actor(self) -> models.Actor:
        """This token and operator as the services see them, to call a service directly
        (``server.run(server.services.dentries.add_folder(st.actor(), ...))``)."""
        services = self.server.services
        principal = self.server.run(services.tokens.authenticate(self.token))
        operator = self.server.run(services.identity.operator(principal.corp_id, self.union_id))
        return models.Actor(principal, operator, services.clock)


def _members(kind: type[Any], members: Sequence[Member] | None) -> list[Any] | None:
    if members is None:
        return None
    return [kind(type=x[0], id=x[1], corp_id=x[2] if len(x) > 2 else None) for x in members]


def every_page(
    fetch: Callable[[str | None], Any],
    items_of: Callable[[Any], list[Any] | None],
    limit: int | None,
) -> list[Any]:
    """The items of every page of a listing: ``fetch(nextToken)`` gives a page, ``items_of`` its
    items; each page is checked to hold at most ``limit`` items and, but for the last, to be
    full."""
    found: list[Any] = []
    token = None
    for _ in range(10_000):
        page = fetch(token)
        items = items_of(page) or []
        if limit is not None:
            assert len(items) <= limit
            assert not page.next_token or len(items) == limit
        found.extend(items)
        token = page.next_token
        if not token:
            return found
    raise AssertionError("the listing never reached its last page")
