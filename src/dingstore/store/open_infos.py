"""Queries for open info: the URLs apps registered to open a file with, and the browser
session each preview link is bound to. Every statement filters by ``corp_id``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store.base import Connection
from dingstore.store.schema import dentries as d
from dingstore.store.schema import open_infos as o
from dingstore.store.schema import preview_sessions as s


async def register(
    conn: Connection,
    *,
    corp_id: str,
    space_id: int,
    dentry_id: int,
    app_id: str,
    open_type: str,
    provider: str,
    url: str,
    union_id: str,
    now: int,
) -> None:
    """Set the app's URL for the file and open type, replacing the one it registered before."""
    key = (
        o.c.corp_id == corp_id,
        o.c.dentry_id == dentry_id,
        o.c.app_id == app_id,
        o.c.open_type == open_type,
    )
    values = {"space_id": space_id, "provider": provider, "url": url, "union_id": union_id}
    updated = await conn.execute(sa.update(o).where(*key).values(**values, modified_at=now))
    if not updated.rowcount:
        await conn.execute(
            sa.insert(o).values(
                corp_id=corp_id,
                dentry_id=dentry_id,
                app_id=app_id,
                open_type=open_type,
                modified_at=now,
                **values,
            )
        )


async def registered(
    conn: Connection, corp_id: str, dentry_id: int, open_type: str, app_id: str
) -> RowMapping | None:
    """The registration to answer with: the app's own, else the latest of another app's."""
    mine = sa.case((o.c.app_id == app_id, 0), else_=1)
    stmt = (
        sa.select(o)
        .where(o.c.corp_id == corp_id, o.c.dentry_id == dentry_id, o.c.open_type == open_type)
        .order_by(mine, o.c.modified_at.desc(), o.c.app_id)
        .limit(1)
    )
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def session(conn: Connection, corp_id: str, link_id: str) -> RowMapping | None:
    stmt = sa.select(s).where(s.c.link_id == link_id, s.c.corp_id == corp_id)
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def claim(
    conn: Connection, corp_id: str, link_id: str, session_hash: str, now: int, expires_at: int
) -> bool:
    """Bind the link to the session, if no session has it yet; True when this call did."""
    row = {
        "link_id": link_id,
        "corp_id": corp_id,
        "session_hash": session_hash,
        "claimed_at": now,
        "expires_at": expires_at,
    }
    given = sa.select(*(sa.literal(v, s.c[k].type).label(k) for k, v in row.items()))
    free = ~sa.exists().where(s.c.link_id == link_id)
    inserted = await conn.execute(sa.insert(s).from_select(list(row), given.where(free)))
    return bool(inserted.rowcount)


async def purge_expired_sessions(conn: Connection, now: int) -> int:
    """Housekeeping: across every org, by design (the link is dead for everyone)."""
    deleted = await conn.execute(sa.delete(s).where(s.c.expires_at < now))
    return int(deleted.rowcount or 0)


async def purge_orphans(conn: Connection) -> int:
    """Housekeeping: the registrations of files purged for good (no dentry row left), across
    every org by design."""
    gone = ~sa.exists().where(d.c.id == o.c.dentry_id)
    deleted = await conn.execute(sa.delete(o).where(gone))
    return int(deleted.rowcount or 0)
