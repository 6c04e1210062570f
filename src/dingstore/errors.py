"""Every error dingstore answers with, as one exception tree.

    DingstoreError (status, code, message)
    ├── BadRequest 400          paramError, paramError.<field>, InvalidAuthentication,
    │   │                       invalidClientIdOrSecret, invalidSuiteKey, ...
    │   └── Conflict 400        operationConcurrentControl (a concurrent change won)
    ├── Forbidden 403           permissionDenied, Forbidden.AccessDenied.*
    │   └── ScopeDenied 403     + accessdenieddetail.requiredScopes
    ├── NotFound 404            taskNotExist, spaceNotExist, ...
    ├── MethodNotAllowed 405
    ├── PayloadTooLarge 413     RequestEntityTooLarge (a body over DINGSTORE_MAX_BODY_SIZE)
    ├── ServerError 500         systemError
    └── Unavailable 503         operationTimeout

Each instance carries the DingTalk ``code`` the SDK reads, the HTTP status and a message. The api
layer renders any of them as ``{"code", "message", "requestid"}``; nothing else reaches a client.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DingstoreError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "systemError"
    default_message: ClassVar[str] = "system error"

    def __init__(self, code: str | None = None, message: str | None = None) -> None:
        self.code = code or self.default_code
        self.message = message or self.default_message
        super().__init__(f"{self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class BadRequest(DingstoreError):
    status = 400
    default_code = "paramError"
    default_message = "invalid parameter"


class Conflict(BadRequest):
    default_code = "operationConcurrentControl"
    default_message = "the resource is being changed by another operation; retry later"


class Forbidden(DingstoreError):
    status = 403
    default_code = "permissionDenied"
    default_message = "permission denied"


class ScopeDenied(Forbidden):
    """The app behind the token lacks a scope the operation needs (spec §1.13)."""

    default_code = "Forbidden.AccessDenied.AccessTokenPermissionDenied"

    def __init__(self, required_scopes: list[str]) -> None:
        self.required_scopes = required_scopes
        super().__init__(message=f"the app lacks the required scopes: {', '.join(required_scopes)}")

    def body(self) -> dict[str, Any]:
        return {**super().body(), "accessdenieddetail": {"requiredScopes": self.required_scopes}}


class NotFound(DingstoreError):
    status = 404
    default_code = "NotFound"
    default_message = "not found"


class MethodNotAllowed(DingstoreError):
    status = 405
    default_code = "MethodNotAllowed"
    default_message = "method not allowed"


class PayloadTooLarge(DingstoreError):
    status = 413
    default_code = "RequestEntityTooLarge"
    default_message = "the request body is too large"


class ServerError(DingstoreError):
    status = 500


class Unavailable(DingstoreError):
    status = 503
    default_code = "operationTimeout"
    default_message = "the operation timed out; retry later"


def param_error(field: str | None, message: str) -> BadRequest:
    """``paramError.<field>`` — the storage APIs' code for one bad parameter (spec §2.4)."""
    return BadRequest(f"paramError.{field}" if field else "paramError", message)


def invalid_authentication(message: str = "invalid access_token") -> BadRequest:
    return BadRequest("InvalidAuthentication", message)
