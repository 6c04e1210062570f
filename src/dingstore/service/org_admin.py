"""What an org's admins manage from the web console: the org's users and their departments and
tags, its apps (create, disable, scopes, a new secret, the HTTP push callback) and its apps'
event deliveries. Every method checks that the operator is an admin of the org and reaches
that org's rows only; the CLI's ``dingstore admin`` calls the identity and callback services
directly (it runs on the store's host, for every org)."""

from __future__ import annotations

from dingstore import errors
from dingstore.service import models
from dingstore.service.events import push
from dingstore.service.events.callbacks import CallbackService, Delivery
from dingstore.service.identity import AppCredentials, IdentityService


def _require_admin(actor: models.Actor) -> None:
    if not actor.operator.is_admin:
        raise errors.PERMISSION_DENIED.error("only the organization's admins may do this")


class OrgAdminService:
    def __init__(self, identity: IdentityService, callbacks: CallbackService) -> None:
        self._identity = identity
        self._callbacks = callbacks

    async def users(self, actor: models.Actor) -> list[models.User]:
        _require_admin(actor)
        return await self._identity.list_users(actor.corp_id)

    async def create_user(self, actor: models.Actor, name: str, *, admin: bool) -> models.User:
        _require_admin(actor)
        if not name.strip() or len(name) > 128:
            raise errors.param_error("name", "a name is 1 to 128 characters")
        return await self._identity.create_user(actor.corp_id, name.strip(), admin=admin)

    async def groups(self, actor: models.Actor) -> list[models.GroupMember]:
        _require_admin(actor)
        return await self._identity.groups(actor.corp_id)

    async def add_to_group(
        self, actor: models.Actor, kind: str, group_id: str, union_id: str
    ) -> None:
        _require_admin(actor)
        await self._identity.add_to_group(actor.corp_id, kind, group_id, union_id)

    async def remove_from_group(
        self, actor: models.Actor, kind: str, group_id: str, union_id: str
    ) -> None:
        _require_admin(actor)
        await self._identity.remove_from_group(actor.corp_id, kind, group_id, union_id)

    async def apps(self, actor: models.Actor) -> list[models.App]:
        _require_admin(actor)
        return await self._identity.list_apps(actor.corp_id)

    async def app(self, actor: models.Actor, app_id: str) -> models.App:
        """One app of the org; another org's does not exist here."""
        _require_admin(actor)
        try:
            found = await self._identity.get_app(app_id)
        except errors.DingstoreError:
            found = None
        if found is None or found.corp_id != actor.corp_id:
            raise errors.APP_NOT_EXIST.error(f"no app {app_id} in this organization")
        return found

    async def create_app(
        self, actor: models.Actor, name: str, app_scopes: tuple[str, ...]
    ) -> AppCredentials:
        """A new internal app; its secret is in the answer, and never again."""
        _require_admin(actor)
        if not name.strip() or len(name) > 128:
            raise errors.param_error("name", "a name is 1 to 128 characters")
        if not app_scopes:
            raise errors.param_error("scopes", "an app needs at least one scope")
        return await self._identity.create_app(actor.corp_id, name.strip(), app_scopes)

    async def disable_app(self, actor: models.Actor, app_id: str, *, disabled: bool) -> None:
        app = await self.app(actor, app_id)
        await self._identity.disable_app(app.app_id, disabled=disabled)

    async def rotate_secret(self, actor: models.Actor, app_id: str) -> AppCredentials:
        app = await self.app(actor, app_id)
        return await self._identity.rotate_secret(app.app_id)

    async def set_scopes(
        self, actor: models.Actor, app_id: str, app_scopes: tuple[str, ...]
    ) -> models.App:
        app = await self.app(actor, app_id)
        if not app_scopes:
            raise errors.param_error("scopes", "an app needs at least one scope")
        return await self._identity.set_scopes(app.app_id, app_scopes)

    async def callback(self, actor: models.Actor, app_id: str) -> push.Callback | None:
        app = await self.app(actor, app_id)
        if app.kind != "INTERNAL":
            return None
        return await self._callbacks.get_callback(app.app_id)

    async def set_callback(
        self, actor: models.Actor, app_id: str, *, url: str, token: str, aes_key: str
    ) -> None:
        """Push mode for the app, once its URL answered the check (``CallbackRefused`` else)."""
        app = await self.app(actor, app_id)
        await self._callbacks.set_callback(app.app_id, url=url, token=token, aes_key=aes_key)

    async def clear_callback(self, actor: models.Actor, app_id: str) -> None:
        app = await self.app(actor, app_id)
        await self._callbacks.clear_callback(app.app_id)

    async def deliveries(self, actor: models.Actor, app_id: str) -> list[Delivery]:
        """The app's newest events and how their delivery stands."""
        app = await self.app(actor, app_id)
        return (await self._callbacks.deliveries(app.app_id, limit=100))[1]
