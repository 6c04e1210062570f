"""Bodies of test mode's controls (``/_dingstore/``, docs/testing.md)."""

from __future__ import annotations

from pydantic import Field, StrictInt

from dingstore.api.schemas import Wire


class CreateOrgRequest(Wire):
    name: str | None = Field(None, max_length=256)


class AddUserRequest(Wire):
    name: str = Field(min_length=1, max_length=256)
    admin: bool = False


class AddAppRequest(Wire):
    name: str = Field(min_length=1, max_length=256)
    scopes: list[str] | None = None
    app_key: str | None = Field(None, min_length=1, max_length=64)
    app_secret: str | None = Field(None, min_length=1, max_length=256)


class ResetRequest(Wire):
    corp_id: str | None = None


class FaultRequest(Wire):
    operation: str = Field(min_length=1, max_length=128)
    code: str | None = Field(None, min_length=1, max_length=128)
    status: int = Field(400, ge=100, le=599)
    message: str | None = Field(None, max_length=1024)
    times: int | None = Field(1, ge=1)
    after: StrictInt = Field(0, ge=0)
    delay_ms: int = Field(0, ge=0, le=600_000)
    probability: float | None = Field(None, ge=0.0, le=1.0)
    seed: int | None = None
    corp_id: str | None = None


class CorpQuery(Wire):
    corp_id: str | None = None


class TasksRequest(Wire):
    corp_id: str | None = None


class StepRequest(Wire):
    steps: int = Field(1, ge=1, le=1_000_000)
    corp_id: str | None = None


class FailNextStepRequest(Wire):
    message: str | None = Field(None, max_length=256)


class EventsQuery(Wire):
    corp_id: str
    after: int | None = Field(None, ge=0)
    limit: int = Field(1000, ge=1, le=10_000)


class WaitDeliveredRequest(Wire):
    corp_id: str
    timeout: float = Field(5.0, ge=0.0, le=600.0)


class SnapshotRequest(Wire):
    name: str = Field(min_length=1, max_length=128)
