"""Prepared hot statements: compiled once, run on the driver itself (store/base.py ``prepared``).

SQLAlchemy's execution layer costs some 20 µs a statement; a hot read (GetTask) is a few µs on
the driver. A ``Plan`` holds the compiled SQL and refuses any statement whose parameters or
columns need type conversion, so that the driver's values are exactly SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


class Record(dict[str, Any]):
    """A row of a prepared statement: by key or by attribute, like SQLAlchemy's ``RowMapping``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class PreparedResult:
    """The rows of a prepared statement, with the part of SQLAlchemy's ``Result`` we use."""

    def __init__(self, rows: list[Record]) -> None:
        self._rows = rows
        self.rowcount = len(rows)  # an INSERT, UPDATE or DELETE's: it returns what it changed

    def mappings(self) -> PreparedResult:
        return self

    def first(self) -> Record | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Record]:
        return self._rows

    def scalar(self) -> Any:
        return next(iter(self._rows[0].values())) if self._rows else None


@dataclass(frozen=True, slots=True)
class Plan:
    statement: Any
    sql: str
    names: tuple[str, ...]
    columns: tuple[str, ...]

    @classmethod
    def of(cls, statement: Any, dialect: sa.Dialect) -> Plan:
        if isinstance(statement, sa.sql.dml.UpdateBase) and not statement.exported_columns:
            # The driver's own count of changed rows differs between backends: RETURNING tells
            # them (``rowcount``) on each.
            raise TypeError("a prepared INSERT, UPDATE or DELETE must have RETURNING")
        compiled = statement.compile(dialect=dialect)
        converting = [
            f"parameter {name}"
            for name, bind in compiled.binds.items()
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None
        ] + [
            f"column {column.name}"
            for column in statement.exported_columns
            if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None
        ]
        if converting:
            raise TypeError(f"a prepared statement cannot convert types: {', '.join(converting)}")
        return cls(
            statement,
            compiled.string,
            tuple(compiled.positiontup or ()),
            tuple(c.name for c in statement.exported_columns),
        )

    def result(self, rows: Iterable[Sequence[Any]]) -> PreparedResult:
        return PreparedResult([Record(zip(self.columns, row, strict=True)) for row in rows])

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        return [parameters[name] for name in self.names]


class Plans:
    """The plans of one connection, by statement (statements are module-level constants)."""

    def __init__(self) -> None:
        self._plans: dict[int, Plan] = {}

    def get(self, statement: Any, dialect: sa.Dialect) -> Plan:
        plan = self._plans.get(id(statement))
        if plan is None or plan.statement is not statement:
            plan = self._plans[id(statement)] = Plan.of(statement, dialect)
        return plan
