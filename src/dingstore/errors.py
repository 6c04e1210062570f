"""Every error dingstore answers with: an exception tree for the statuses, and the codes as data.

    DingstoreError (status)
    ├── BadRequest 400          paramError, paramError.<field>, InvalidAuthentication, ...
    │   └── Conflict 400        operationConcurrentControl (a concurrent change won)
    ├── Unauthorized 401        wopiInvalidToken (the WOPI host)
    ├── Forbidden 403           permissionDenied, Forbidden.AccessDenied.*
    │   └── ScopeDenied 403     + accessdenieddetail.requiredScopes
    ├── NotFound 404            taskNotExist, spaceNotExist, ...
    ├── MethodNotAllowed 405
    ├── AlreadyExists 409       FileAlreadyExists (the data plane)
    ├── LockMismatch 409        wopiLockMismatch (the WOPI host), + the lock on the file
    ├── RequestTimeout 408      waitTimeout (test mode: events not delivered in time)
    ├── PayloadTooLarge 413     RequestEntityTooLarge (a body over DINGSTORE_MAX_BODY_SIZE)
    ├── RangeNotSatisfiable 416 InvalidRange (the data plane)
    ├── HeadersTooLarge 431     RequestHeaderFieldsTooLarge (written by api/protocol.py)
    ├── ServerError 500         systemError
    ├── NotImplementedHere 501  wopiNotImplemented (the WOPI host)
    └── Unavailable 503         operationTimeout, systemError

A class is what code catches (``except errors.Unavailable``: retry); an ``ErrorCode`` is what a
client reads. Each code the server can answer with is declared once below, with its class (hence
its HTTP status) and a default message — once per status for the three answered with two
(``spaceNotExist``, ``dentryNotExist``, ``systemError``) — and raised by name::

    raise errors.DENTRY_NOT_EXIST.error(f"dentry {dentry_id} does not exist")

``paramError.<field>`` is one code with the offending field in its name (``param_error``).
docs/errors.md lists exactly these codes; tests/unit/test_error_codes.py holds it to that. The
api layer renders any error as ``{"code", "message", "requestid"}``; nothing else reaches a
client.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar


class DingstoreError(Exception):
    status: ClassVar[int] = 500

    def __init__(
        self, code: ErrorCode[Any] | None = None, message: str | None = None, *, field: str = ""
    ) -> None:
        self.error_code = code or next(_DEFAULTS[c] for c in type(self).__mro__ if c in _DEFAULTS)
        self.code = self.error_code.code.replace(FIELD, field) if field else self.error_code.code
        self.message = message or self.error_code.message
        super().__init__(f"{self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class BadRequest(DingstoreError):
    status = 400


class Conflict(BadRequest):
    pass


class Unauthorized(DingstoreError):
    status = 401


class Forbidden(DingstoreError):
    status = 403


class ScopeDenied(Forbidden):
    """The app behind the token lacks a scope the operation needs (spec §1.13)."""

    def __init__(self, required_scopes: list[str]) -> None:
        self.required_scopes = required_scopes
        message = f"the app lacks the required scopes: {', '.join(required_scopes)}"
        super().__init__(ACCESS_TOKEN_PERMISSION_DENIED, message)

    def body(self) -> dict[str, Any]:
        return {**super().body(), "accessdenieddetail": {"requiredScopes": self.required_scopes}}


class NotFound(DingstoreError):
    status = 404


class MethodNotAllowed(DingstoreError):
    status = 405


class AlreadyExists(DingstoreError):
    status = 409


class LockMismatch(DingstoreError):
    """A WOPI lock operation or save that does not hold the file's lock; ``lock`` is the lock
    the file holds ("" for none), which the answer names in ``X-WOPI-Lock``."""

    status = 409
    lock: str = ""


class RequestTimeout(DingstoreError):
    status = 408


class PayloadTooLarge(DingstoreError):
    status = 413


class RangeNotSatisfiable(DingstoreError):
    status = 416


class HeadersTooLarge(DingstoreError):
    status = 431


class ServerError(DingstoreError):
    status = 500


class NotImplementedHere(DingstoreError):
    status = 501


class Unavailable(DingstoreError):
    status = 503


E = TypeVar("E", bound=DingstoreError)

FIELD = "<field>"
"""Stands in a code's name for the field it is about: ``paramError.<field>``."""


@dataclass(frozen=True)
class ErrorCode(Generic[E]):
    """One answer the server can give: the ``code`` a client reads, the exception class that
    carries it (so its HTTP status) and the message to send when the raise site has none."""

    code: str
    kind: type[E]
    message: str

    @property
    def status(self) -> int:
        return self.kind.status

    def error(self, message: str | None = None) -> E:
        """The exception to raise."""
        return self.kind(self, message)


# The DingTalk API (spec §2.4, docs/errors.md).
PARAM_ERROR = ErrorCode("paramError", BadRequest, "invalid parameter")
PARAM_ERROR_FIELD = ErrorCode(f"paramError.{FIELD}", BadRequest, "invalid parameter")
MISSING_BODY = ErrorCode("Missingbody", BadRequest, "body is mandatory for this action")
INVALID_AUTHENTICATION = ErrorCode("InvalidAuthentication", BadRequest, "invalid access_token")
INVALID_CLIENT_ID_OR_SECRET = ErrorCode(
    "invalidClientIdOrSecret", BadRequest, "invalid appKey or appSecret"
)
INVALID_SUITE_KEY = ErrorCode("invalidSuiteKey", BadRequest, "invalid suiteKey or suiteSecret")
INVALID_SUITE_TICKET = ErrorCode("invalidSuiteTicket", BadRequest, "invalid suiteTicket")
INVALID_AUTH_INFO = ErrorCode("invalidAuthInfo", BadRequest, "the org has not authorized the suite")
OPERATION_CONCURRENT_CONTROL = ErrorCode(
    "operationConcurrentControl",
    Conflict,
    "the resource is being changed by another operation; retry later",
)
DENTRY_NAME_ILLEGAL = ErrorCode("dentryNameIllegal", BadRequest, "illegal name")
DENTRY_ALREADY_EXIST = ErrorCode("dentryAlreadyExist", BadRequest, "the name is taken")
DENTRY_NAME_CONFLICT = ErrorCode("dentryNameConflict", BadRequest, "the name is taken")
DENTRY_UPLOAD_ERROR = ErrorCode("dentryUploadError", BadRequest, "the upload is incomplete")
DENTRY_APP_PROPERTIES_NUMBER_EXCEEDS_LIMIT = ErrorCode(
    "dentryAppPropertiesNumberExceedsLimit", BadRequest, "too many app properties"
)
SPACE_QUOTA_INSUFFICIENT = ErrorCode(
    "spaceQuotaInsufficient", BadRequest, "the space's quota is used up"
)
OPERATION_NOT_SUPPORTED = ErrorCode(
    "operationNotSupported", BadRequest, "the operation is not supported here"
)
# GetDentryThumbnails' per-item codes (spec §6 K op 43): a file no thumbnail is made for, and one
# whose thumbnail is not made yet.
DENTRY_FORMAT_NOT_SUPPORT = ErrorCode(
    "dentryFormatNotSupport", BadRequest, "no thumbnail is made for this file"
)
# GetDentryOpenInfo (spec §6 K 42); GetWebOfficeUrl answers the first and third too (no office
# server configured, or none for this file type).
DENTRY_EDIT_NOT_SUPPORT = ErrorCode(
    "dentryEditNotSupport", BadRequest, "no editor can open this file"
)
DENTRY_PREVIEW_NOT_SUPPORT = ErrorCode(
    "dentryPreviewNotSupport", BadRequest, "this file cannot be previewed"
)
DENTRY_EXTENSION_NOT_SUPPORT = ErrorCode(
    "dentryExtensionNotSupport", BadRequest, "files of this extension cannot be previewed"
)
# The permission operations answer a missing space or dentry with 400, not 404 (spec §6 I).
SPACE_NOT_EXIST_400 = ErrorCode("spaceNotExist", BadRequest, "the space does not exist")
DENTRY_NOT_EXIST_400 = ErrorCode("dentryNotExist", BadRequest, "the dentry does not exist")


PERMISSION_DENIED = ErrorCode("permissionDenied", Forbidden, "permission denied")
ACCESS_TOKEN_PERMISSION_DENIED = ErrorCode(
    "Forbidden.AccessDenied.AccessTokenPermissionDenied",
    Forbidden,  # raised as ScopeDenied(required_scopes), which adds them to the body
    "the app lacks a required scope",
)
THUMBNAIL_NOT_EXIST = ErrorCode(
    "thumbnailNotExist", Forbidden, "the thumbnail is not made yet; ask again later"
)
QPS_LIMIT = ErrorCode(
    "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
    Forbidden,
    "the app exceeded its requests a second on this operation",
)

NOT_FOUND = ErrorCode("NotFound", NotFound, "not found")
TASK_NOT_EXIST = ErrorCode("taskNotExist", NotFound, "the task does not exist")
SPACE_NOT_EXIST = ErrorCode("spaceNotExist", NotFound, "the space does not exist")
DENTRY_NOT_EXIST = ErrorCode("dentryNotExist", NotFound, "the dentry does not exist")
RECYCLE_BIN_NOT_EXIST = ErrorCode("recycleBinNotExist", NotFound, "the recycle bin does not exist")
RECYCLE_ITEM_NOT_EXIST = ErrorCode(
    "recycleItemNotExist", NotFound, "the recycle item does not exist"
)
ORG_NOT_EXIST = ErrorCode("orgNotExist", NotFound, "the organization does not exist")
USER_NOT_EXIST = ErrorCode("userNotExist", NotFound, "the user does not exist")
APP_NOT_EXIST = ErrorCode("appNotExist", NotFound, "the app does not exist")
SUITE_NOT_EXIST = ErrorCode("suiteNotExist", NotFound, "the suite does not exist")

METHOD_NOT_ALLOWED = ErrorCode("MethodNotAllowed", MethodNotAllowed, "method not allowed")
REQUEST_ENTITY_TOO_LARGE = ErrorCode(
    "RequestEntityTooLarge", PayloadTooLarge, "the request body is too large"
)
REQUEST_HEADER_FIELDS_TOO_LARGE = ErrorCode(
    "RequestHeaderFieldsTooLarge", HeadersTooLarge, "the request line and headers are too large"
)
SYSTEM_ERROR = ErrorCode("systemError", ServerError, "system error")
OPERATION_TIMEOUT = ErrorCode(
    "operationTimeout", Unavailable, "the operation timed out; retry later"
)
# A backing store (database, file store, object store) failed or does not answer.
STORE_UNAVAILABLE = ErrorCode("systemError", Unavailable, "a store failed; retry later")

# dingstore's task extensions (docs/tasks.md#extensions).
TASK_NOT_CANCELABLE = ErrorCode(
    "taskNotCancelable", BadRequest, "this kind of task cannot be canceled"
)
TASK_NOT_RETRYABLE = ErrorCode(
    "taskNotRetryable", BadRequest, "the task has nothing a retry could take up"
)
IDEMPOTENCY_KEY_REUSED = ErrorCode(
    "idempotencyKeyReused",
    AlreadyExists,
    "the Idempotency-Key was used with another request in the last 24 hours",
)
IDEMPOTENCY_KEY_IN_USE = ErrorCode(
    "idempotencyKeyInUse",
    AlreadyExists,
    "a request with this Idempotency-Key is still running; retry later",
)

# The data plane (``/_blobs/{key}``) answers as OSS does (spec §6 D).
ACCESS_DENIED = ErrorCode("AccessDenied", Forbidden, "the request is not signed")
SIGNATURE_DOES_NOT_MATCH = ErrorCode(
    "SignatureDoesNotMatch", Forbidden, "the signature does not match"
)
REQUEST_TIME_TOO_SKEWED = ErrorCode("RequestTimeTooSkewed", Forbidden, "the signature expired")
INVALID_OBJECT_NAME = ErrorCode("InvalidObjectName", BadRequest, "invalid object key")
INVALID_ARGUMENT = ErrorCode("InvalidArgument", BadRequest, "invalid argument")
ENTITY_TOO_LARGE = ErrorCode("EntityTooLarge", BadRequest, "the body is too large")
INCOMPLETE_BODY = ErrorCode("IncompleteBody", BadRequest, "the body is not the declared size")
NO_SUCH_KEY = ErrorCode("NoSuchKey", NotFound, "the specified key does not exist")
NO_SUCH_UPLOAD = ErrorCode("NoSuchUpload", NotFound, "no such multipart upload")
FILE_ALREADY_EXISTS = ErrorCode("FileAlreadyExists", AlreadyExists, "the object already exists")
INVALID_RANGE = ErrorCode(
    "InvalidRange", RangeNotSatisfiable, "the requested range cannot be satisfied"
)

# Test mode's controls (``/_dingstore/``, ``serve --test-mode``; docs/testing.md).
SNAPSHOT_NOT_EXIST = ErrorCode("snapshotNotExist", NotFound, "no snapshot of that name")
FAULT_NOT_EXIST = ErrorCode("faultNotExist", NotFound, "no fault of that id")
WAIT_TIMEOUT = ErrorCode("waitTimeout", RequestTimeout, "not delivered within the timeout")

# The WOPI host (``/wopi/files/...``), called by the office server (docs/previews.md).
WOPI_INVALID_TOKEN = ErrorCode(
    "wopiInvalidToken", Unauthorized, "the access token is invalid or expired"
)
WOPI_LOCK_MISMATCH = ErrorCode("wopiLockMismatch", LockMismatch, "the file holds another lock")
WOPI_NOT_IMPLEMENTED = ErrorCode(
    "wopiNotImplemented", NotImplementedHere, "this WOPI operation is not supported"
)

# What a class raised without a code answers with, e.g. ``Unavailable()``.
_DEFAULTS: dict[type[DingstoreError], ErrorCode[Any]] = {
    DingstoreError: SYSTEM_ERROR,
    BadRequest: PARAM_ERROR,
    Conflict: OPERATION_CONCURRENT_CONTROL,
    Unauthorized: WOPI_INVALID_TOKEN,
    Forbidden: PERMISSION_DENIED,
    NotFound: NOT_FOUND,
    MethodNotAllowed: METHOD_NOT_ALLOWED,
    AlreadyExists: FILE_ALREADY_EXISTS,
    LockMismatch: WOPI_LOCK_MISMATCH,
    PayloadTooLarge: REQUEST_ENTITY_TOO_LARGE,
    RangeNotSatisfiable: INVALID_RANGE,
    HeadersTooLarge: REQUEST_HEADER_FIELDS_TOO_LARGE,
    ServerError: SYSTEM_ERROR,
    NotImplementedHere: WOPI_NOT_IMPLEMENTED,
    Unavailable: OPERATION_TIMEOUT,
    RequestTimeout: WAIT_TIMEOUT,
}


def every_code() -> list[ErrorCode[Any]]:
    """Every code declared here: all the server can answer with."""
    return [v for v in vars(sys.modules[__name__]).values() if isinstance(v, ErrorCode)]


def lock_mismatch(current: str, message: str) -> LockMismatch:
    """409 ``wopiLockMismatch``, naming ``current``, the lock the file holds ("" for none)."""
    error = WOPI_LOCK_MISMATCH.error(message)
    error.lock = current
    return error


def param_error(field: str | None, message: str) -> BadRequest:
    """``paramError.<field>`` — the storage APIs' code for one bad parameter (spec §2.4)."""
    if not field:
        return PARAM_ERROR.error(message)
    return BadRequest(PARAM_ERROR_FIELD, message, field=field)
