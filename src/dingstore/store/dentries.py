"""Queries for the dentry tree: rows, siblings, ancestors and paths, pages, and file versions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base
from dingstore.store.base import Connection
from dingstore.store.schema import dentries as d
from dingstore.store.schema import dentry_versions as v

# Written into the SQL, not bound: a plan made for any parameter (PostgreSQL's generic plan of a
# prepared statement) can use the partial index ``uq_dentries_live_name`` only when it sees that
# its rows are the live ones; with ``status = $4`` it scans every child of the folder instead.
LIVE = d.c.status == sa.literal_column("'NORMAL'")

ORDER_COLUMNS = {
    "MODIFIED_TIME": d.c.modified_at,
    "CREATE_TIME": d.c.created_at,
    "SIZE": d.c.size,
    "NAME": d.c.name,
}


_GET = base.prepared(
    sa.select(d).where(
        d.c.id == sa.bindparam("dentry_id"), d.c.space_id == sa.bindparam("space_id"), LIVE
    )
)


async def get(conn: Connection, space_id: int, dentry_id: int) -> RowMapping | None:
    """A live dentry of the space."""
    params = {"dentry_id": dentry_id, "space_id": space_id}
    return (await conn.execute(_GET, params)).mappings().first()  # type: ignore[no-any-return]


async def get_any(conn: Connection, dentry_id: int) -> RowMapping | None:
    """A dentry row whatever its status (one in the recycle bin, say)."""
    stmt = sa.select(d).where(d.c.id == dentry_id)
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def get_many(conn: Connection, space_id: int, ids: Iterable[int]) -> list[RowMapping]:
    stmt = sa.select(d).where(d.c.id.in_(list(ids)), d.c.space_id == space_id, LIVE)
    return list((await conn.execute(stmt)).mappings().all())


async def child(conn: Connection, space_id: int, parent_id: int, name: str) -> RowMapping | None:
    stmt = sa.select(d).where(
        d.c.space_id == space_id, d.c.parent_id == parent_id, d.c.name == name, LIVE
    )
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def names_starting(conn: Connection, space_id: int, parent_id: int, stem: str) -> set[str]:
    """Live sibling names that begin with ``stem`` (candidates an AUTO_RENAME must avoid)."""
    pattern = stem.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    stmt = sa.select(d.c.name).where(
        d.c.space_id == space_id,
        d.c.parent_id == parent_id,
        d.c.name.like(pattern, escape="\\"),
        LIVE,
    )
    return set((await conn.execute(stmt)).scalars().all())


async def has_children(
    conn: Connection, space_id: int, dentry_id: int, *, every: bool = False
) -> bool:
    """Whether the folder has live children (``every``: children of any status, those in the
    recycle bin included)."""
    stmt = sa.select(d.c.id).where(d.c.space_id == space_id, d.c.parent_id == dentry_id)
    if not every:
        stmt = stmt.where(LIVE)
    return (await conn.execute(stmt.limit(1))).first() is not None


@dataclass(frozen=True, slots=True)
class Chain:
    """Where a folder is: its ``/``-rooted path (None when it, or a folder above it, is in the
    recycle bin), and the ids from it up to the root's child, nearest first."""

    path: str | None
    ids: tuple[int, ...]


ROOT_CHAIN = Chain("", ())


def _walk_up(start: Any) -> Any:
    """(origin, id, name, status, depth) for each node ``start`` selects and its ancestors: the
    one walk up the tree, whatever asks for it (chains, paths, ancestor ids)."""
    columns = (d.c.parent_id, d.c.name, d.c.status)
    first = sa.select(
        d.c.id.label("origin"), d.c.id, *columns, sa.literal_column("0").label("depth")
    ).where(start)
    chain = first.cte("chain", recursive=True)
    chain = chain.union_all(
        sa.select(chain.c.origin, d.c.id, *columns, chain.c.depth + sa.literal_column("1")).join(
            chain, d.c.id == chain.c.parent_id
        )
    )
    return sa.select(chain.c.origin, chain.c.id, chain.c.name, chain.c.status, chain.c.depth)


async def ancestor_ids(conn: Connection, dentry_id: int) -> list[int]:
    """The ids from the dentry up to (not including) the root, nearest first."""
    walk = _walk_up(d.c.id == dentry_id).subquery()
    stmt = sa.select(walk.c.id).order_by(walk.c.depth)
    return [int(i) for i in (await conn.execute(stmt)).scalars().all()]


async def ancestries(conn: Connection, node_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each node's id and its ancestors' (below the root), in one walk up from all of them."""
    wanted = list(node_ids)
    if not wanted:
        return {}
    found: dict[int, set[int]] = {}
    for r in (await conn.execute(_walk_up(d.c.id.in_(wanted)))).mappings().all():
        found.setdefault(int(r.origin), set()).add(int(r.id))
    return found


# One folder's chain — what every request on a node asks — as a prepared statement (the
# driver's cached plan: a recursive query's planning costs more than its run).
_ONE_CHAIN = base.prepared(_walk_up(d.c.id == sa.bindparam("folder_id")))


async def folder_chains(conn: Connection, folder_ids: Iterable[int]) -> dict[int, Chain]:
    """Each folder's chain (the root ``0``'s is empty), in one recursive query; a folder with
    no row is left out."""
    wanted = {int(i) for i in folder_ids} - {0}
    chains: dict[int, Chain] = {0: ROOT_CHAIN}
    if not wanted:
        return chains
    if len(wanted) == 1:
        result = await conn.execute(_ONE_CHAIN, {"folder_id": next(iter(wanted))})
    else:
        result = await conn.execute(_walk_up(d.c.id.in_(wanted)))
    parts: dict[int, list[tuple[int, int, str]]] = {}
    hidden: set[int] = set()
    for r in result.mappings().all():
        parts.setdefault(int(r.origin), []).append((int(r.depth), int(r.id), r.name))
        if r.status != "NORMAL":
            hidden.add(int(r.origin))
    for origin, found in parts.items():
        found.sort()
        path = None if origin in hidden else "".join("/" + n for _, _, n in reversed(found))
        chains[origin] = Chain(path, tuple(node for _, node, _ in found))
    return chains


async def folder_paths(conn: Connection, folder_ids: Iterable[int]) -> dict[int, str | None]:
    """``/a/b`` for each folder id (the root ``0`` is ``""``), in one recursive query; ``None``
    for a folder that is itself, or lies under, a deleted (recycled) folder."""
    return {f: c.path for f, c in (await folder_chains(conn, folder_ids)).items()}


def _keyset(columns: list[sa.ColumnElement[Any]], after: list[Any] | None, desc: bool) -> Any:
    if after is None:
        return sa.true()
    row, bound = sa.tuple_(*columns), sa.tuple_(*[sa.literal(a) for a in after])
    return row < bound if desc else row > bound


async def page_children(
    conn: Connection,
    space_id: int,
    parent_id: int,
    *,
    order_by: str,
    desc: bool,
    after: list[Any] | None,
    limit: int,
) -> list[RowMapping]:
    """One page of a folder's live children, ordered by ``order_by`` then id."""
    column = ORDER_COLUMNS[order_by]
    keys: list[sa.ColumnElement[Any]] = [column] if order_by == "NAME" else [column, d.c.id]
    ordering = [k.desc() if desc else k.asc() for k in keys]
    stmt = (
        sa.select(d)
        .where(d.c.space_id == space_id, d.c.parent_id == parent_id, LIVE)
        .where(_keyset(keys, after, desc))
        .order_by(*ordering)
        .limit(limit)
    )
    return list((await conn.execute(stmt)).mappings().all())


async def page_space(
    conn: Connection, space_id: int, *, desc: bool, after: list[Any] | None, limit: int
) -> list[RowMapping]:
    """One page of every live dentry of the space, by modified time then id."""
    keys: list[sa.ColumnElement[Any]] = [d.c.modified_at, d.c.id]
    stmt = (
        sa.select(d)
        .where(d.c.space_id == space_id, LIVE)
        .where(_keyset(keys, after, desc))
        .order_by(*[k.desc() if desc else k.asc() for k in keys])
        .limit(limit)
    )
    return list((await conn.execute(stmt)).mappings().all())


def _name_taken(space_id: Any, parent_id: Any, name: Any) -> Any:
    """Whether a live sibling holds the name (a probe of ``uq_dentries_live_name``)."""
    return sa.exists().where(
        d.c.space_id == space_id, d.c.parent_id == parent_id, d.c.name == name, LIVE
    )


# A new live node, written only if no live sibling holds its name: the check and the insert in
# one statement, built once (a node's columns as parameters ``new_<column>``).
_NEW_COLUMNS = (
    "id", "space_id", "parent_id", "name", "type", "size", "blob_id", "version", "status", "uuid",
    "creator_id", "modifier_id", "created_at", "modified_at", "descendants", "stored",
)  # fmt: skip
_NEW = {c: sa.bindparam(f"new_{c}", type_=d.c[c].type) for c in _NEW_COLUMNS}
_INSERT_IF_FREE = base.prepared(
    sa.insert(d)
    .from_select(
        list(_NEW_COLUMNS),
        sa.select(*(p.label(c) for c, p in _NEW.items())).where(
            ~_name_taken(_NEW["space_id"], _NEW["parent_id"], _NEW["name"])
        ),
    )
    .returning(d.c.id)
)


async def insert(conn: Connection, **values: Any) -> dict[str, Any] | None:
    """A new live node, with nothing under it: a folder, or a file whose one version is its
    size. Its ancestors grow by it. It is written only if no live sibling holds its name (the
    check and the insert are one statement); returns the row written, or None when the name is
    taken and nothing was."""
    stored = int(values.get("size") or 0) if values["type"] == "FILE" else 0
    row = {**values, "status": "NORMAL", "descendants": 0, "stored": stored}
    params = {f"new_{c}": row.get(c) for c in _NEW_COLUMNS}
    if not (await conn.execute(_INSERT_IF_FREE, params)).rowcount:
        return None
    await grow_chain(conn, int(values["parent_id"]), 1, stored)
    return row


_RENAME_IF_FREE = base.prepared(
    sa.update(d)
    .where(
        d.c.id == sa.bindparam("node"),
        ~_name_taken(sa.bindparam("space"), sa.bindparam("parent"), sa.bindparam("new_name")),
    )
    .values(
        name=sa.bindparam("new_name"),
        modifier_id=sa.bindparam("modifier"),
        modified_at=sa.bindparam("modified"),
    )
    .returning(d.c.id)
)


async def rename(
    conn: Connection, row: RowMapping, name: str, *, modifier_id: str, modified_at: int
) -> bool:
    """Give the live node ``row`` a new name, if no live sibling holds it (one statement);
    False, and nothing changed, when one does."""
    result = await conn.execute(
        _RENAME_IF_FREE,
        {
            "node": int(row.id),
            "space": int(row.space_id),
            "parent": int(row.parent_id),
            "new_name": name,
            "modifier": modifier_id,
            "modified": modified_at,
        },
    )
    return bool(result.rowcount)


async def update(conn: Connection, dentry_id: int, **values: Any) -> None:
    await conn.execute(sa.update(d).where(d.c.id == dentry_id).values(**values))


async def delete(conn: Connection, dentry_id: int) -> None:
    await conn.execute(sa.delete(d).where(d.c.id == dentry_id))


# --- subtree sizes ----------------------------------------------------------------------------


async def descendants(conn: Connection, node_id: int) -> int:
    """The node's live descendants, whatever its own status."""
    stmt = sa.select(d.c.descendants).where(d.c.id == node_id)
    return int((await conn.execute(stmt)).scalar_one())


def weight(row: RowMapping) -> tuple[int, int]:
    """What a node adds to its ancestors' sizes: itself and its descendants, and their bytes."""
    return 1 + int(row.descendants), int(row.stored)


_ROOT = sa.literal_column("0", sa.BigInteger)  # written in: a bound one could not be prepared


def _chain_sums(deltas: Any) -> sa.Select[Any]:
    """(node, descendants, stored) to add to each node: ``deltas``' rows walked up their chains
    and summed per node."""
    given = deltas.subquery()
    start = sa.select(
        given.c[0].label("node"), given.c[1].label("count"), given.c[2].label("bytes")
    ).where(given.c[0] != _ROOT)
    up = start.cte("up", recursive=True)
    up = up.union_all(
        sa.select(d.c.parent_id, up.c.count, up.c.bytes)
        .join(up, d.c.id == up.c.node)
        .where(d.c.parent_id != _ROOT)
    )
    return sa.select(
        up.c.node, sa.func.sum(up.c.count).label("count"), sa.func.sum(up.c.bytes).label("bytes")
    ).group_by(up.c.node)


# One node's chain (a new node's parent, a new version's file), built once.
_CHAIN_SUMS_OF_ONE = base.prepared(
    _chain_sums(
        sa.select(*(sa.bindparam(n, type_=sa.BigInteger) for n in ("node", "count", "bytes")))
    )
)


async def grow(conn: Connection, deltas: Any) -> None:
    """Add to nodes' subtree sizes and to those of all their ancestors. ``deltas`` selects
    (node_id, descendants, stored) rows; node ``0`` (a space's root, no row) is skipped. Two
    statements, whatever the number of rows: one walks up the chains and sums per node, one
    applies the sums."""
    await _apply(conn, (await conn.execute(_chain_sums(deltas))).all())


_GROW = (
    sa.update(d)
    .where(d.c.id == sa.bindparam("node"))
    .values(
        descendants=d.c.descendants + sa.bindparam("count"),
        stored=d.c.stored + sa.bindparam("bytes"),
    )
)


async def _apply(conn: Connection, sums: Iterable[Sequence[Any]]) -> None:
    changes = [
        {"node": int(node), "count": int(count), "bytes": int(size)}
        for node, count, size in sums
        if count or size
    ]
    if changes:
        await conn.execute(_GROW, changes)


async def grow_chain(conn: Connection, node_id: int, count: int, size: int) -> None:
    """Add ``count`` descendants and ``size`` bytes to the node and all its ancestors."""
    if node_id and (count or size):
        given = {"node": node_id, "count": count, "bytes": size}
        result = await conn.execute(_CHAIN_SUMS_OF_ONE, given)
        await _apply(conn, [tuple(row.values()) for row in result.mappings().all()])


# --- versions ---------------------------------------------------------------------------------


_VERSION_COLUMNS = (
    "dentry_id", "version", "space_id", "name", "size", "blob_id", "modifier_id", "created_at"
)  # fmt: skip
_INSERT_VERSION = base.prepared(
    sa.insert(v)
    .values({c: sa.bindparam(f"new_{c}") for c in _VERSION_COLUMNS})
    .returning(v.c.dentry_id)
)


async def insert_version(conn: Connection, **values: Any) -> None:
    """A version row: every column of ``dentry_versions`` given."""
    await conn.execute(_INSERT_VERSION, {f"new_{c}": values[c] for c in _VERSION_COLUMNS})


async def version(conn: Connection, dentry_id: int, number: int) -> RowMapping | None:
    stmt = sa.select(v).where(v.c.dentry_id == dentry_id, v.c.version == number)
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def page_versions(
    conn: Connection, dentry_id: int, *, before: int | None, limit: int
) -> list[RowMapping]:
    """Newest first."""
    stmt = sa.select(v).where(v.c.dentry_id == dentry_id)
    if before is not None:
        stmt = stmt.where(v.c.version < before)
    stmt = stmt.order_by(v.c.version.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings().all())


async def versions_of(conn: Connection, dentry_id: int) -> list[RowMapping]:
    stmt = sa.select(v).where(v.c.dentry_id == dentry_id).order_by(v.c.version.desc())
    return list((await conn.execute(stmt)).mappings().all())


async def delete_versions(conn: Connection, dentry_id: int, numbers: Iterable[int]) -> None:
    await conn.execute(
        sa.delete(v).where(v.c.dentry_id == dentry_id, v.c.version.in_(list(numbers)))
    )


async def move_versions(conn: Connection, dentry_id: int, space_id: int) -> None:
    await conn.execute(sa.update(v).where(v.c.dentry_id == dentry_id).values(space_id=space_id))
