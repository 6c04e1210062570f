"""SQL that differs between the backends: transaction ids, for reading rows in the order their
transactions committed, and a column kept from choosing the index (``by_key``).

A sequence orders rows by when they were *inserted*, not when they *committed*: on PostgreSQL a
reader that saw row 11 may later see row 10 appear, committed after 11. ``transaction_id()``
stamps a row with its writer's transaction id (``pg_current_xact_id``), and
``settled_below()`` is the lowest id of a transaction of this database still running when the
reader's snapshot was taken (or the snapshot's ``xmax`` when none is): every row stamped below it
is committed or gone for good, so a reader that pages by ``(tx, id)`` and stops below that line
never skips one. SQLite has one writer at a time and commits in id order: both are constants
there (0, and no line).

Transaction ids are the cluster's, but only this database's transactions can write its rows: a
running transaction that ``pg_stat_activity`` places in *another* database of the cluster does
not hold the line (``pg_snapshot_xmin`` alone would, for as long as it runs). One that it does not
place, as one that ended since the snapshot or a prepared transaction, is kept: the line only
ever errs low.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

NO_LINE = 2**63 - 1


class transaction_id(FunctionElement[int]):
    type = sa.BigInteger()
    inherit_cache = True


class settled_below(FunctionElement[int]):
    type = sa.BigInteger()
    inherit_cache = True


@compiles(transaction_id)
def _transaction_id(element: Any, compiler: Any, **kw: Any) -> str:
    return "0"


@compiles(transaction_id, "postgresql")
def _transaction_id_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return "pg_current_xact_id()::text::bigint"


@compiles(settled_below)
def _settled_below(element: Any, compiler: Any, **kw: Any) -> str:
    return str(NO_LINE)


_SETTLED_BELOW_PG = (
    "(SELECT min(coalesce(x, pg_snapshot_xmax(s)))::text::bigint"
    " FROM pg_current_snapshot() AS s"
    " LEFT JOIN LATERAL pg_snapshot_xip(s) AS x ON NOT EXISTS ("
    "SELECT 1 FROM pg_stat_activity AS a"
    " WHERE a.backend_xid = xid(x) AND a.datname <> current_database()))"
)


@compiles(settled_below, "postgresql")
def _settled_below_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return _SETTLED_BELOW_PG


class current_snapshot(FunctionElement[str]):
    """The reader's snapshot, as text: which transactions had ended when it was taken (None on
    SQLite, where there is no line)."""

    type = sa.String()
    inherit_cache = True


class ended_by(FunctionElement[bool]):
    """Whether the transaction ``tx`` had ended when ``snapshot`` (a ``current_snapshot``) was
    taken: "committed before that moment", for a row that is visible now."""

    type = sa.Boolean()
    inherit_cache = True


@compiles(current_snapshot)
def _current_snapshot(element: Any, compiler: Any, **kw: Any) -> str:
    return "NULL"


@compiles(current_snapshot, "postgresql")
def _current_snapshot_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return "pg_current_snapshot()::text"


@compiles(ended_by)
def _ended_by(element: Any, compiler: Any, **kw: Any) -> str:
    return "1 = 1"


@compiles(ended_by, "postgresql")
def _ended_by_pg(element: Any, compiler: Any, **kw: Any) -> str:
    tx, snapshot = list(element.clauses)
    return (
        f"pg_visible_in_snapshot(({compiler.process(tx, **kw)})::text::xid8,"
        f" ({compiler.process(snapshot, **kw)})::pg_snapshot)"
    )


class by_key(FunctionElement[Any]):
    """``column`` in a condition that must not choose the index (SQLite's unary ``+``): a
    statement that names its rows by primary key and also filters by the org keeps SQLite on
    the key, where without statistics it would rather scan the org's whole range of an index
    that starts with ``corp_id``. PostgreSQL plans by its statistics: the column as it is."""

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(by_key)
def _by_key(element: Any, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(by_key, "sqlite")
def _by_key_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))
