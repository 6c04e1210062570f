"""Effective roles (service/access.py) on both databases: inheritance down the tree, grants on
the whole space, each member type, expiry, and the implicit OWNER of admins and creators."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dingstore.clock import now_ms
from dingstore.service import access, models
from dingstore.service.dentries import DentryService
from dingstore.settings import Settings
from dingstore.store import permissions, spaces
from tests.engine import trees
from tests.engine.trees import Store


@pytest.fixture
def store(tmp_path: Path, database_url: str) -> Iterator[Store]:
    opened = Store(Settings(data_dir=tmp_path, database_url=database_url))
    yield opened
    opened.close()


def _grant(space_id: int, node: int, key: str, role: access.Role, *, expires: int | None = None):
    now = now_ms()
    kind, _, rest = key.partition(":")
    return dict(
        space_id=space_id, dentry_id=node, member=key, role_id=role.name, rank=int(role),
        member_type=kind, member_id=rest.rsplit(":", 1)[-1], member_corp_id=None,
        expires_at=expires, operator_id="x", created_at=now, modified_at=now,
    )  # fmt: skip


def test_roles_inherit_and_match_every_member_type(store: Store) -> None:
    services = store.services
    account = store.run(trees.new_account(services))
    corp = account.actor.corp_id
    space_id = store.run(trees.new_space(services, account, "s"))
    dentry_service: DentryService = services.dentries
    top = store.run(dentry_service.add_folder(account.actor, str(space_id), "0", "top", None))
    mid = store.run(
        dentry_service.add_folder(account.actor, str(space_id), str(top.id), "mid", None)
    )
    leaf = store.run(
        dentry_service.add_folder(account.actor, str(space_id), str(mid.id), "l", None)
    )
    bob = store.run(services.identity.create_user(corp, "bob"))
    store.run(services.identity.add_to_group(corp, "DEPT", "42", bob.union_id))
    store.run(services.identity.add_to_group(corp, "CONVERSATION", "cid1", bob.union_id))

    async def role_of(node: int) -> access.Role | None:
        operator = await services.identity.operator(corp, bob.union_id)
        actor = models.Actor(account.actor.principal, operator, services.clock)
        async with services.db.read() as conn:
            space = await spaces.get(conn, space_id)
            return await access.role(conn, actor, space, node)

    async def grant(*rows: dict) -> None:
        async with services.db.write() as conn:
            await permissions.upsert(conn, list(rows))

    assert store.run(role_of(leaf.id)) is None
    store.run(grant(_grant(space_id, 0, f"ORG:{corp}", access.Role.READER)))
    assert store.run(role_of(leaf.id)) is access.Role.READER
    assert store.run(role_of(0)) is access.Role.READER
    store.run(grant(_grant(space_id, mid.id, f"DEPT:{corp}:42", access.Role.DOWNLOADER)))
    assert store.run(role_of(leaf.id)) is access.Role.DOWNLOADER
    assert store.run(role_of(top.id)) is access.Role.READER
    store.run(grant(_grant(space_id, leaf.id, "CONVERSATION:cid1", access.Role.EDITOR)))
    assert store.run(role_of(leaf.id)) is access.Role.EDITOR
    assert store.run(role_of(mid.id)) is access.Role.DOWNLOADER
    store.run(grant(_grant(space_id, top.id, f"USER:{bob.union_id}", access.Role.MANAGER,
                           expires=now_ms() - 1)))  # fmt: skip
    assert store.run(role_of(leaf.id)) is access.Role.EDITOR  # an expired grant counts for nothing
    store.run(grant(_grant(space_id, top.id, "TAG:other-corp:t", access.Role.OWNER)))
    assert store.run(role_of(leaf.id)) is access.Role.EDITOR  # a tag of another org


def test_admins_and_creators_own_the_space(store: Store) -> None:
    services = store.services
    account = store.run(trees.new_account(services))
    space_id = store.run(trees.new_space(services, account, "s"))

    async def implicit(union_id: str) -> access.Role | None:
        operator = await services.identity.operator(account.actor.corp_id, union_id)
        async with services.db.read() as conn:
            space = await spaces.get(conn, space_id)
        return access.implicit(
            models.Actor(account.actor.principal, operator, services.clock), space
        )

    carol = store.run(services.identity.create_user(account.actor.corp_id, "carol"))
    assert store.run(implicit(account.union_id)) is access.Role.OWNER
    assert store.run(implicit(carol.union_id)) is None
