"""Does the live database match the models? (invariant 5: schema matches code)

Alembic's autogenerate comparison finds missing or extra tables, columns, indexes, constraints
and type changes, but not Postgres enum labels; those are compared here, with the Python enums
behind the SQLAlchemy `Enum` columns as the source of truth. A service calls
`assert_no_drift` at start-up and refuses to start on a drifted schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Enum, Index, MetaData, Table, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.schema import Constraint, ForeignKeyConstraint
from sqlalchemy.types import ARRAY, TypeDecorator, TypeEngine


class SchemaDriftError(RuntimeError):
    """The database and the models disagree; `problems` says where, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"database schema does not match the models:\n{listing}")


async def find_drift(engine: AsyncEngine, metadata: MetaData) -> list[str]:
    """Every difference between the database and `metadata`, as readable sentences."""
    async with engine.connect() as conn:
        return await conn.run_sync(_find_drift, metadata)


async def assert_no_drift(engine: AsyncEngine, metadata: MetaData) -> None:
    problems = await find_drift(engine, metadata)
    if problems:
        raise SchemaDriftError(problems)


def _find_drift(connection: Connection, metadata: MetaData) -> list[str]:
    migration_context = MigrationContext.configure(connection, opts={"compare_type": True})
    problems = [_describe(diff) for diff in _flatten(compare_metadata(migration_context, metadata))]
    problems.extend(_enum_drift(connection, metadata))
    return problems


def _flatten(diffs: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    # Column modifications come grouped in a list per column.
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


def _describe(diff: tuple[Any, ...]) -> str:
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        return f"table {_table_name(diff[1])} {_where(kind)}"
    if kind in ("add_column", "remove_column"):
        _, schema, table, column = diff
        return f"column {_qualified(schema, table)}.{column.name} {_where(kind)}"
    if kind in ("add_index", "remove_index"):
        index: Index = diff[1]
        columns = ", ".join(getattr(expr, "name", None) or str(expr) for expr in index.expressions)
        return f"index {index.name} on {_table_name(index.table)} ({columns}) {_where(kind)}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint: Constraint = diff[1]
        return f"{_constraint_kind(constraint)} {_constraint_label(constraint)} {_where(kind)}"
    if kind.startswith("modify_"):
        _, schema, table, column, _existing, database_value, model_value = diff
        what = kind.removeprefix("modify_")
        return (
            f"column {_qualified(schema, table)}.{column}: {what} is {database_value!r} in the"
            f" database but {model_value!r} in the models"
        )
    return f"{kind}: {diff[1:]!r}"


def _where(kind: str) -> str:
    if kind.startswith("add_"):
        return "is in the models but not in the database"
    return "is in the database but not in the models"


def _qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _table_name(table: Table | None) -> str:
    if table is None:
        return "?"
    return _qualified(table.schema, table.name)


def _constraint_kind(constraint: Constraint) -> str:
    if isinstance(constraint, ForeignKeyConstraint):
        return "foreign key"
    return type(constraint).__name__.removesuffix("Constraint").lower() + " constraint"


def _constraint_label(constraint: Constraint) -> str:
    columns = ", ".join(column.name for column in getattr(constraint, "columns", ()))
    table = getattr(constraint, "table", None)
    name = constraint.name if isinstance(constraint.name, str) else "(unnamed)"
    return f"{name} on {_table_name(table)} ({columns})"


@dataclass(frozen=True)
class _EnumType:
    schema: str
    name: str

    def label(self, default_schema: str) -> str:
        return self.name if self.schema == default_schema else f"{self.schema}.{self.name}"


def _enum_drift(connection: Connection, metadata: MetaData) -> list[str]:
    default_schema = str(connection.execute(text("SELECT current_schema()")).scalar_one())
    expected, problems = _model_enums(metadata, default_schema)
    actual: dict[_EnumType, list[str]] = {}
    rows = connection.execute(
        text(
            "SELECT n.nspname, t.typname, e.enumlabel FROM pg_enum e"
            " JOIN pg_type t ON t.oid = e.enumtypid"
            " JOIN pg_namespace n ON n.oid = t.typnamespace"
            " ORDER BY n.nspname, t.typname, e.enumsortorder"
        )
    )
    for schema, name, label in rows:
        actual.setdefault(_EnumType(schema, name), []).append(label)

    for enum_type, values in sorted(expected.items(), key=lambda item: item[0].name):
        name = enum_type.label(default_schema)
        labels = actual.get(enum_type)
        if labels is None:
            problems.append(f"enum type {name} is in the models but not in the database")
            continue
        problems.extend(
            f"enum {name}: value {value!r} is in the models but not in the database"
            for value in values
            if value not in labels
        )
        problems.extend(
            f"enum {name}: value {label!r} is in the database but not in the models"
            for label in labels
            if label not in values
        )
    covered_schemas = {default_schema} | {t.schema for t in metadata.tables.values() if t.schema}
    problems.extend(
        f"enum type {enum_type.label(default_schema)} is in the database but not in the models"
        for enum_type in sorted(actual, key=lambda e: (e.schema, e.name))
        if enum_type.schema in covered_schemas and enum_type not in expected
    )
    return problems


def _model_enums(
    metadata: MetaData, default_schema: str
) -> tuple[dict[_EnumType, list[str]], list[str]]:
    """Native enum types the models use, with their values in declaration order."""
    found: dict[_EnumType, list[str]] = {}
    problems: list[str] = []
    for table in metadata.tables.values():
        for column in table.columns:
            enum = _native_enum(column)
            if enum is None or enum.name is None:
                continue
            key = _EnumType(enum.schema or default_schema, enum.name)
            values = list(enum.enums)
            if key in found and found[key] != values:
                problems.append(
                    f"enum {key.label(default_schema)}: the models declare it twice with"
                    f" different values ({found[key]} and {values}, column"
                    f" {_table_name(table)}.{column.name})"
                )
            found.setdefault(key, values)
    return found, problems


def _native_enum(column: Column[Any]) -> Enum | None:
    column_type: TypeEngine[Any] = column.type
    while True:
        if isinstance(column_type, TypeDecorator):
            column_type = column_type.impl_instance
        elif isinstance(column_type, ARRAY):
            column_type = column_type.item_type
        else:
            break
    if isinstance(column_type, Enum) and column_type.native_enum:
        return column_type
    return None
