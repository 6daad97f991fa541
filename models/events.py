"""Events: every change to a record, in commit order, for the feed and the webhooks."""

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from models.base import Handled, UTCDateTime


class Event(Handled, table=True):
    """One change, with the record as it was at commit and the handling that decides who sees it.

    `seq` is the feed cursor. Writers hold one lock from their first statement to commit (see
    core/writer.py), so seq order is commit order and a reader never skips a late commit.
    """

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    type: str = Field(max_length=30)
    at: datetime = Field(sa_type=UTCDateTime, index=True)  # replays start from a time
    record_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=20)
    category: str | None = Field(default=None, max_length=30)
    severity_rank: int
    lat: float
    lon: float
    data: str = Field(sa_column=Column(Text, nullable=False))
