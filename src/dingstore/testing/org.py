"""``Dingstore``: one test's org on a ``DingstoreServer``, and the test-mode controls scoped to it.

What the ``dingstore`` fixture gives a test: where to point the SDK (``endpoint``), who to be
(``corp_id``, ``union_id``, ``app_key``, ``app_secret``, ``access_token()``), more users and
apps, and the controls of docs/testing.md, each limited to this org, so that tests sharing the
session's server (an org each) never see each other's faults, pauses or events.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dingstore import errors

if TYPE_CHECKING:
    from dingstore.service.seeding import Seeded
    from dingstore.testing.server import DingstoreServer


@dataclass(frozen=True)
class App:
    """An internal app made by ``Dingstore.add_app``."""

    app_key: str
    app_secret: str


class Dingstore:
    """An org with its admin (``union_id``) and an internal app holding every scope
    (``app_key``, ``app_secret``) on ``server``."""

    def __init__(
        self,
        server: DingstoreServer,
        corp_id: str,
        union_id: str,
        app_key: str,
        app_secret: str,
    ) -> None:
        self.server = server
        self.corp_id = corp_id
        self.union_id = union_id
        self.app_key = app_key
        self.app_secret = app_secret
        self._tokens: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<Dingstore {self.endpoint} corpId={self.corp_id}>"

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``, for ``Config(protocol="http", endpoint=...)``."""
        return self.server.endpoint

    @property
    def url(self) -> str:
        return self.server.url

    # --- who -----------------------------------------------------------------------------------

    def access_token(self, app_key: str | None = None, app_secret: str | None = None) -> str:
        """An access token of the org's app (or of the app ``app_key``), as
        ``POST /v1.0/oauth2/accessToken`` hands it out; the same one again on later calls."""
        key = app_key or self.app_key
        if key not in self._tokens:
            secret = app_secret or self.app_secret
            tokens = self.server.services.tokens
            self._tokens[key] = self.server.call(tokens.issue_for_app, key, secret).access_token
        return self._tokens[key]

    def add_user(self, name: str, admin: bool = False) -> str:
        """A new user of the org; its unionId."""
        return str(self.server.call(self.server.controls.add_user, self.corp_id, name, admin))

    def add_app(
        self,
        name: str,
        scopes: list[str] | None = None,
        app_key: str | None = None,
        app_secret: str | None = None,
    ) -> App:
        """A new internal app of the org holding ``scopes`` (None: every scope)."""
        key, secret = self.server.call(
            self.server.controls.add_app, self.corp_id, name, scopes, app_key, app_secret
        )
        return App(key, secret)

    def seed(self, path: str | Path) -> Seeded:
        """Load a seed file (docs/testing.md) into the server: its orgs are new orgs beside
        this one (give them no fixed corpId, appKey or unionId if several tests load it)."""
        return self.server.seed(path)

    # --- controls ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty the org's storage (spaces, files, recycle bin, permissions, tasks, events,
        subscriptions, faults); the org, its users and apps stay, tokens stay valid."""
        self.server.call(self.server.controls.reset, self.corp_id)

    def inject_fault(
        self,
        operation: str,
        code: str | None,
        status: int = 400,
        times: int | None = 1,
        delay_ms: int = 0,
        message: str | None = None,
        probability: float | None = None,
        seed: int | None = None,
        after: int = 0,
    ) -> str:
        """The org's next ``after`` calls of ``operation`` (the SDK's action name, e.g.
        ``"AddFolder"``) pass untouched, then the ``times`` calls after them (None: every one)
        answer ``status`` with DingTalk's error body for ``code``, after ``delay_ms``; with
        ``probability``, each of those fails with that chance (drawn from ``seed``). ``code``
        None with a delay only slows the calls. Returns the fault's id; a bad value raises
        ``ValueError``."""
        try:
            fault_id = self.server.call(
                self.server.controls.inject_fault,
                operation,
                code,
                status=status,
                message=message,
                times=times,
                after=after,
                delay_ms=delay_ms,
                probability=probability,
                seed=seed,
                corp_id=self.corp_id,
            )
        except errors.BadRequest as exc:
            raise ValueError(exc.message) from None
        return str(fault_id)

    def clear_faults(self) -> None:
        self.server.call(self.server.controls.clear_faults, self.corp_id)

    def pause_tasks(self) -> None:
        """The org's background tasks (bulk copy, move, delete; thumbnails) take no step until
        ``step_tasks`` or ``resume_tasks``; a step under way finishes."""
        self.server.call(self.server.controls.pause_tasks, self.corp_id)

    def step_tasks(self, steps: int = 1) -> int:
        """Run up to ``steps`` steps of the org's tasks now, paused or not; how many ran."""
        return int(self.server.call(self.server.controls.step_tasks, steps, self.corp_id))

    def resume_tasks(self) -> None:
        self.server.call(self.server.controls.resume_tasks, self.corp_id)

    def fail_next_step(self, task_id: int | str, message: str | None = None) -> None:
        """The task's next step ends it FAIL with ``message``."""
        self.server.call(self.server.controls.fail_next_step, task_id, message)

    def events(self, after: int | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The change events emitted for the org's apps, in order (after event id ``after``),
        each with its delivery: ``eventType``, ``action``, ``dentryId``, ``name``, ``status``,
        ``attempts``..."""
        found = self.server.call(self.server.controls.events, self.corp_id, after, limit)
        return list(found)

    def wait_events_delivered(self, timeout: float = 5.0) -> bool:
        """Wait until every event of the org has been delivered (or given up on); True, or
        ``TimeoutError`` after ``timeout`` seconds."""
        controls = self.server.controls
        if not self.server.call(controls.wait_events_delivered, self.corp_id, timeout):
            pending = [e for e in self.events() if e["status"] == "PENDING"]
            raise TimeoutError(
                f"{len(pending)} events of {self.corp_id} still pending after {timeout} s"
            )
        return True

    def close(self) -> None:
        """What the test left behind that could reach past it: its faults, its task pause."""
        controls = self.server.controls

        def release() -> None:
            controls.clear_faults(self.corp_id)
            controls.resume_tasks(self.corp_id)

        self.server.call(release)
