"""A list page from SQLite as one text value, not rows of columns.

Python 3.11's sqlite3 module lets go of the interpreter lock for every column of every row it
fetches (`sqlite3_column_type`), and takes it back: a page of 51 records of 7 columns was
~400 hand-overs of the lock, each a wait while the event loop, the writer or another reader
held it. Under B3's load the reader threads spent ~43 % of their CPU time in the kernel on
those hand-overs (docs/PERFORMANCE.md, B3). SQLite joins the page into one text value instead
(`group_concat`): one row, one column. The fields are joined with control characters, which
no stored JSON text, id, state, country or time holds (JSON escapes them in strings).
PostgreSQL's driver fetches in C holding the lock, and reads rows as they come.
"""

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Dialect, Executable, Select

from models.base import UTCDateTime

FIELD, ROW = "\x1f", "\x1e"  # ASCII's unit and record separators
Reader = Callable[[str | None], Any]


@lru_cache(maxsize=1024)
def packed(query: Select[Any]) -> Select[Any]:
    """`query` (a list statement, its columns those of `reading._list_query`) as one value:
    each row's fields as text joined by FIELD, the rows joined by ROW; null where none."""
    page = query.subquery("page")
    row: Any = None
    for column in page.c:
        field = sa.func.ifnull(sa.cast(column, sa.Text), "")
        row = field if row is None else row.op("||")(sa.literal(FIELD)).op("||")(field)
    return sa.select(sa.func.group_concat(row, sa.literal(ROW)))


def page_rows(connection: Connection, query: Executable, values: dict[str, Any]) -> list[Any]:
    """The rows of a list statement, newest first, as `connection.execute(...).all()` gives
    them; on SQLite fetched as one value."""
    if connection.dialect.name != "sqlite" or not isinstance(query, Select):
        return list(connection.execute(query, values).all())
    text = connection.execute(packed(query), values).scalar()
    if not text:
        return []
    readers = _readers(query, connection.dialect)
    width = len(query.selected_columns)
    rows = []
    for line in text.split(ROW):
        fields: list[Any] = line.split(FIELD)
        if len(fields) != width:  # a separator inside a value: never in what is stored
            return list(connection.execute(query, values).all())
        for index, read in readers:
            fields[index] = read(fields[index] or None)
        rows.append(tuple(fields))
    rows.sort(key=lambda row: row[0], reverse=True)  # group_concat keeps no order: by seq
    return rows


@lru_cache(maxsize=1024)
def _readers(query: Select[Any], dialect: Dialect) -> tuple[tuple[int, Reader], ...]:
    """How the columns that are not plain text are read back from theirs, as the column's
    type reads what SQLite stores: an integer as the driver gives it, a time and any text
    type with a result processor by that processor (UTCDateTime's reads SQLite's text into a
    UTC time). A text column must not be nullable: null is packed as empty text."""
    readers: list[tuple[int, Reader]] = []
    for index, column in enumerate(query.selected_columns):
        kind = column.type
        process = kind.result_processor(dialect, None)
        if isinstance(kind, UTCDateTime):
            readers.append((index, process or _unread(column)))
            continue
        if isinstance(kind, sa.types.TypeDecorator):  # SQLModel's AutoString: a String
            kind = kind.impl_instance
        if isinstance(kind, sa.Integer):
            readers.append((index, _integer))
        elif isinstance(kind, sa.String) and not getattr(column, "nullable", True):
            if process is not None:
                readers.append((index, process))
        else:
            _unread(column)
    return tuple(readers)


def _unread(column: Any) -> Reader:
    raise TypeError(f"a list page cannot hold the column {column!r}")


def _integer(text: str | None) -> int | None:
    return None if text is None else int(text)
