"""Tables of alerts and distress reports: one row per record, every version kept."""

from datetime import datetime

from sqlalchemy import Column, Index, Text, false, text
from sqlmodel import Field, SQLModel

from models.base import Handled, UTCDateTime


class Record(Handled, table=True):
    """The current version of an alert or distress report.

    `doc` is the record exactly as the API returns it; the other columns are what lists filter
    and the access policy reads. `recipient_countries` and `recipient_agencies` are stored as
    `,CODE,CODE,` so the policy's SQL twin can test membership on the row itself.
    """

    # Lists walk this index newest first and filter on its other columns without touching the
    # table, so a page costs the same at 10k and 100k records (see docs/PERFORMANCE.md, B3).
    # `q` finds each word with LIKE '%word%': on PostgreSQL a trigram index (pg_trgm) serves
    # that; SQLite has no such index, so there it is a partial index that holds no row, and a
    # text search scans the list index, bounded by the page.
    __table_args__ = (
        Index("ix_record_list", "kind", "status", "seq", "severity_rank", "lat", "lon"),
        Index(
            "ix_record_search",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            sqlite_where=false(),
        ),
        # a case's records, in order: `?case_id=` lists and the case views; `status` and `kind`
        # in it too, so that a planner with no statistics (SQLite's) takes it over the indexes
        # that lead with those two when a case is asked for
        Index("ix_record_case", "case_id", "status", "kind", "seq"),
        # the list filters that match few records, each its own way in: newest first for an
        # equality (the page ends as it fills), the changed ones for `updated_since` (a sync's
        # poll); the list index above would walk every record to find the few
        Index("ix_record_sender_country", "kind", "status", "sender_country", "seq"),
        Index("ix_record_category", "kind", "status", "category", "seq"),
        Index("ix_record_state", "kind", "status", "state", "seq"),
        Index("ix_record_updated", "kind", "status", "updated_at"),
        # `GET /v1/cases` walks the records in a case newest first, of every kind at once
        Index(
            "ix_record_in_case",
            "status",
            "seq",
            sqlite_where=text("case_id IS NOT NULL"),
            postgresql_where=text("case_id IS NOT NULL"),
        ),
        # the dispatcher's overdue-acknowledgement round reads only the records still to check
        Index("ix_record_ack_check_at", "ack_check_at"),
        # the retention purge reads only the records due: neither purged nor held (a held
        # record keeps its date, and walking past thousands of them every round cost 20 ms);
        # the same terms as `purging._due_query`, so that SQLite sees they imply these
        Index(
            "ix_record_retain_until",
            "retain_until",
            "seq",
            sqlite_where=text("purged_at IS NULL AND legal_hold IS 0"),
            postgresql_where=text("purged_at IS NULL AND legal_hold IS false"),
        ),
    )

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    kind: str = Field(max_length=10)
    version: int
    sender_agency: str = Field(foreign_key="agency.code", max_length=32)
    state: str = Field(max_length=10)
    ack_required: bool
    category: str | None = Field(default=None, max_length=30)
    severity_rank: int
    lat: float
    lon: float
    case_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # when the record's position was true (a distress fix, an alert's observation): its age
    # is shown at read time as `position_age_seconds`
    position_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    search_text: str = Field(sa_column=Column(Text, nullable=False))
    coordinator: str | None = Field(default=None, max_length=32)  # a distress report's RCC
    ack_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # when the dispatcher is to look for missing acknowledgements; cleared once it has
    ack_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # when the retention purge takes it (None once purged), unless the sender's admin holds it
    retain_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    legal_hold: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    doc: str = Field(sa_column=Column(Text, nullable=False))


class RecordVersion(Handled, table=True):
    """One version as it was sent, with the handling it was sent under.

    Each version keeps the columns the access policy reads, like `record` and `event` do: a
    version is shown to whom its own handling allows, whatever the record's handling is now.
    """

    __tablename__ = "record_version"

    record_id: str = Field(foreign_key="record.id", primary_key=True, max_length=36)
    version: int = Field(primary_key=True)
    client_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=10)
    doc: str = Field(sa_column=Column(Text, nullable=False))


class Ack(SQLModel, table=True):
    record_id: str = Field(foreign_key="record.id", primary_key=True, max_length=36)
    agency: str = Field(foreign_key="agency.code", primary_key=True, max_length=32)
    client_id: str = Field(max_length=64)
    note: str | None = Field(default=None, max_length=1000)
    at: datetime = Field(sa_type=UTCDateTime)


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"

    client_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=10)
    fingerprint: str = Field(max_length=64)
    record_id: str = Field(max_length=36)
    created_at: datetime = Field(sa_type=UTCDateTime)
