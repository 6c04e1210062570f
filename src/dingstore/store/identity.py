"""Queries for orgs, users, suites, apps and access tokens."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store.base import Connection
from dingstore.store.schema import apps, orgs, suites, tokens, users


async def _one(conn: Connection, stmt: sa.Select[Any]) -> RowMapping | None:
    return (await conn.execute(stmt)).mappings().first()


async def _all(conn: Connection, stmt: sa.Select[Any]) -> list[RowMapping]:
    return list((await conn.execute(stmt)).mappings().all())


async def insert(conn: Connection, table: sa.Table, **values: Any) -> None:
    await conn.execute(sa.insert(table).values(**values))


async def count_orgs(conn: Connection) -> int:
    return int((await conn.execute(sa.select(sa.func.count()).select_from(orgs))).scalar_one())


async def get_org(conn: Connection, corp_id: str) -> RowMapping | None:
    return await _one(conn, sa.select(orgs).where(orgs.c.corp_id == corp_id))


async def list_orgs(conn: Connection) -> list[RowMapping]:
    return await _all(conn, sa.select(orgs).order_by(orgs.c.created_at))


async def get_user(conn: Connection, union_id: str) -> RowMapping | None:
    return await _one(conn, sa.select(users).where(users.c.union_id == union_id))


async def user_names(conn: Connection, corp_id: str, union_ids: Iterable[str]) -> dict[str, str]:
    """The names of those of ``union_ids`` who are users of the org ``corp_id``."""
    union_ids = list(union_ids)
    if not union_ids:
        return {}
    stmt = sa.select(users.c.union_id, users.c.name).where(
        users.c.corp_id == corp_id, users.c.union_id.in_(union_ids)
    )
    return {row.union_id: row.name for row in await conn.execute(stmt)}


async def known_users(conn: Connection, corp_id: str, union_ids: Iterable[str]) -> set[str]:
    """Which of ``union_ids`` are users of the org ``corp_id``."""
    return set(await user_names(conn, corp_id, union_ids))


async def list_users(conn: Connection, corp_id: str | None) -> list[RowMapping]:
    stmt = sa.select(users).order_by(users.c.created_at, users.c.union_id)
    if corp_id is not None:
        stmt = stmt.where(users.c.corp_id == corp_id)
    return await _all(conn, stmt)


async def get_suite(conn: Connection, suite_key: str) -> RowMapping | None:
    return await _one(conn, sa.select(suites).where(suites.c.suite_key == suite_key))


async def get_app(conn: Connection, app_id: str) -> RowMapping | None:
    return await _one(conn, sa.select(apps).where(apps.c.app_id == app_id))


async def get_app_by_key(conn: Connection, app_key: str) -> RowMapping | None:
    return await _one(conn, sa.select(apps).where(apps.c.app_key == app_key))


async def get_suite_app(conn: Connection, suite_key: str, corp_id: str) -> RowMapping | None:
    return await _one(
        conn, sa.select(apps).where(apps.c.suite_key == suite_key, apps.c.corp_id == corp_id)
    )


async def suite_apps(conn: Connection, suite_key: str) -> list[RowMapping]:
    """The enabled apps of a suite: one per org that authorized it."""
    stmt = sa.select(apps.c.app_id, apps.c.corp_id).where(
        apps.c.suite_key == suite_key, sa.not_(apps.c.disabled)
    )
    return await _all(conn, stmt.order_by(apps.c.corp_id))


async def list_apps(conn: Connection, corp_id: str | None) -> list[RowMapping]:
    stmt = sa.select(apps).order_by(apps.c.created_at, apps.c.app_id)
    if corp_id is not None:
        stmt = stmt.where(apps.c.corp_id == corp_id)
    return await _all(conn, stmt)


async def update_app(conn: Connection, app_id: str, **values: Any) -> None:
    await conn.execute(sa.update(apps).where(apps.c.app_id == app_id).values(**values))


async def reusable_token(conn: Connection, app_id: str, now: int) -> RowMapping | None:
    """The app's newest still-valid token that may be handed out again, if any."""
    stmt = (
        sa.select(tokens)
        .where(tokens.c.app_id == app_id, tokens.c.reusable, tokens.c.expires_at > now)
        .order_by(tokens.c.expires_at.desc())
        .limit(1)
    )
    return await _one(conn, stmt)


async def extend_token(conn: Connection, token_id: int, expires_at: int) -> None:
    await conn.execute(
        sa.update(tokens).where(tokens.c.id == token_id).values(expires_at=expires_at)
    )


async def token_with_app(conn: Connection, token_hash: str) -> RowMapping | None:
    stmt = (
        sa.select(
            tokens.c.expires_at,
            apps.c.app_id,
            apps.c.corp_id,
            apps.c.scopes,
            apps.c.disabled,
        )
        .join(apps, apps.c.app_id == tokens.c.app_id)
        .where(tokens.c.token_hash == token_hash)
    )
    return await _one(conn, stmt)


async def delete_tokens(conn: Connection, app_id: str) -> None:
    await conn.execute(sa.delete(tokens).where(tokens.c.app_id == app_id))


async def purge_expired_tokens(conn: Connection, now: int) -> int:
    result = await conn.execute(sa.delete(tokens).where(tokens.c.expires_at <= now))
    return result.rowcount or 0
