"""The office server as an ``OpenProvider`` of GetDentryOpenInfo (service/previews.py): after
the apps' registrations, before dingstore's own preview page.

* ``EDIT`` (the operator holds EDITOR, checked by GetDentryOpenInfo) opens the file's editor;
* ``PREVIEW`` opens the office server's viewer, with a read-only token, for the types
  dingstore's own page cannot show (Word, Excel, PowerPoint, OpenDocument, ...): the types it
  shows keep its page.

The answer is a link to dingstore's WOPI host page (``sessions.editor_link``). The office server
opens the current version only: for another version, and for a type the office server does not
open, this provider passes (GetDentryOpenInfo then answers as without it).
"""

from __future__ import annotations

from dingstore import errors
from dingstore.service import preview_kinds
from dingstore.service.previews import EDIT, OpenInfo, OpenRequest
from dingstore.service.weboffice.sessions import SessionService


class WopiOpener:
    def __init__(self, sessions: SessionService) -> None:
        self._sessions = sessions

    async def open_url(self, request: OpenRequest) -> OpenInfo | None:
        """The host page's link for the request, or None when the office server is not the
        one to open it."""
        if not self._sessions.configured:
            return None
        if request.open_type != EDIT and preview_kinds.kind_of(request.name) is not None:
            return None  # dingstore's own page shows it
        try:
            link = await self._sessions.editor_link(
                request.actor,
                str(request.space_id),
                str(request.dentry_id),
                view_only=request.open_type != EDIT,
                version=request.version,
            )
        except errors.BadRequest as exc:
            # a type the office server does not open, or a version other than the current one
            passes = (errors.DENTRY_EXTENSION_NOT_SUPPORT, errors.DENTRY_EDIT_NOT_SUPPORT)
            if exc.error_code in passes:
                return None
            raise
        return OpenInfo(link)
