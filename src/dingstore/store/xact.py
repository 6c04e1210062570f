"""SQL that differs between the backends: transaction ids, for reading rows in the order their
transactions committed, and a column kept from choosing the index (``by_key``).

A sequence orders rows by when they were *inserted*, not when they *committed*: on PostgreSQL a
reader that saw row 11 may later see row 10 appear, committed after 11. ``transaction_id()``
stamps a row with its writer's transaction id (``pg_current_xact_id``), and
``settled_below()`` is the lowest id of a transaction still running when the reader's snapshot
was taken (``pg_snapshot_xmin``): every row stamped below it is committed or gone for good, so a
reader that pages by ``(tx, id)`` and stops below that line never skips one. SQLite has one
writer at a time and commits in id order: both are constants there (0, and no line).
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


@compiles(settled_below, "postgresql")
def _settled_below_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


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
