"""The one exception the client raises."""

from __future__ import annotations

import json
import re

from dingstore.client import flows

_XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")
_XML_REQUEST = re.compile(rb"<RequestId>([^<]*)</RequestId>")


class DingstoreError(Exception):
    """Anything that went wrong: an error answer of the server (DingTalk's ``code``, the HTTP
    ``status`` and the server's ``request_id``), of the blob store it sent bytes to (S3's or
    OSS's ``<Code>``), or a failure on the way (``code`` ``connectionError``, ``status``
    None). Codes are listed in docs/errors.md."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id

    def __repr__(self) -> str:
        return (
            f"DingstoreError(code={self.code!r}, status={self.status!r}, "
            f"request_id={self.request_id!r}, message={self.message!r})"
        )


def from_reply(reply: flows.Reply) -> DingstoreError:
    """The error an unsuccessful answer carries: DingTalk's JSON envelope, or an S3/OSS XML
    error document, or (neither) the bare status."""
    request_id = reply.headers.get("x-acs-request-id") or reply.headers.get("x-amz-request-id")
    try:
        body = json.loads(reply.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return DingstoreError(
            body["code"],
            str(body.get("message") or ""),
            status=reply.status,
            request_id=str(body.get("requestid") or request_id or "") or None,
        )
    code = _XML_CODE.search(reply.body)
    if code is not None:
        message = _XML_MESSAGE.search(reply.body)
        xml_request = _XML_REQUEST.search(reply.body)
        return DingstoreError(
            code.group(1).decode(errors="replace"),
            message.group(1).decode(errors="replace") if message else "",
            status=reply.status,
            request_id=xml_request.group(1).decode() if xml_request else request_id,
        )
    return DingstoreError(
        f"http{reply.status}",
        reply.body[:200].decode(errors="replace"),
        status=reply.status,
        request_id=request_id,
    )
