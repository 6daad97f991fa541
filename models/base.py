"""Shared metadata (with a naming convention from day one) and column types."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, TypeDecorator
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata
metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC, hand back aware datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, the text SQLAlchemy's SQLite DATETIME stores, written in one call a
        value (`isoformat`) where its `%`-formatting of seven fields and `process_bind_param`
        took ~2 µs together (5 % of the writer's samples in B1: PERFORMANCE.md)."""
        general = super().bind_processor(dialect)
        if dialect.name != "sqlite":
            return general

        def process(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, datetime) or value.tzinfo is None:
                return general(value) if general is not None else value  # as they would fail
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return value.isoformat(" ", "microseconds")[:26]

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        """On SQLite, the text `process_bind_param` stores is read straight into a UTC time:
        one call a value, where SQLAlchemy's reading and then `process_result_value` took
        three and a `datetime.replace` (~2 µs a value, a tenth of a 50-record list: see
        PERFORMANCE.md, B3). Any other text is read as they read it."""
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            try:
                parsed = datetime.fromisoformat(value + "+00:00")
            except (TypeError, ValueError):  # an offset of its own, or not text
                return general(value)
            return parsed if parsed.tzinfo is UTC else general(value)  # a bare date stays naive

        return process


class Handled(SQLModel):
    """The columns the access policy reads of a record, a version or an event
    (auth/policy.py `Readable`), stored with each of them. Codes lists are `,A,B,`."""

    sender_agency: str = Field(max_length=32)
    sender_country: str = Field(max_length=2)
    status: str = Field(max_length=10)
    distribution: str = Field(max_length=10)
    tlp: str = Field(max_length=12)
    recipient_countries: str = Field(max_length=400)
    recipient_agencies: str = Field(max_length=4000)
