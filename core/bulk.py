"""Inserts that a batch gathers and writes together just before its commit.

Every statement costs the writer thread more in SQLAlchemy than in the database. A batch of
publishes inserts four rows each (record, version, event, audit); gathered, they go out as one
executemany per table. Only the writer's first, optimistic run of a batch defers (see
`core.writer`): if anything in it fails, the batch runs again with every insert immediate.

A deferred row is invisible to later statements of the same transaction. Nothing reads back a
row inserted in its own batch: a client learns a record's id only from the answer, after the
commit. If a statement did need one (an ORM flush hitting a foreign key, say), it fails, and
the batch is run again immediate.
"""

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table
from sqlmodel import Session, SQLModel

PENDING = "rilon_deferred_inserts"


@cache
def insert_of(table: Table) -> Insert:
    return table.insert()


def insert(session: Session, table: Table, rows: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Insert now, or with the batch's other rows of `table` when the batch defers."""
    many = rows if isinstance(rows, list) else [rows]
    if not many:
        return
    pending: dict[tuple[Table, frozenset[str]], list[dict[str, Any]]] | None = session.info.get(
        PENDING
    )
    if pending is None:
        session.connection().execute(insert_of(table), rows)
        return
    for row in many:
        pending.setdefault((table, frozenset(row)), []).append(row)


def defer(session: Session) -> None:
    session.info[PENDING] = {}


@cache
def _foreign_key_order() -> dict[Table, int]:
    """Parents before children, sorted once: SQLAlchemy sorts the tables anew on every
    `sorted_tables` (about 50 µs, for every batch)."""
    return {table: index for index, table in enumerate(SQLModel.metadata.sorted_tables)}


def flush(session: Session) -> None:
    """Write what was deferred, parents before children (the foreign keys' order)."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    order = _foreign_key_order()
    for (table, _columns), rows in sorted(pending.items(), key=lambda item: order[item[0][0]]):
        session.connection().execute(insert_of(table), rows)
