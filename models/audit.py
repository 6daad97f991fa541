"""The audit trail: one hash-chained row per request, token issue and delivery."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    """`hash = sha256(prev_hash ‖ canonical row)`; `seq` runs 1, 2, 3… without gaps."""

    __tablename__ = "audit_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: str = Field(max_length=36, unique=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor_client: str | None = Field(default=None, max_length=64)
    actor_agency: str | None = Field(default=None, max_length=32, index=True)
    actor_country: str | None = Field(default=None, max_length=2)
    action: str = Field(max_length=200, index=True)
    object_type: str | None = Field(default=None, max_length=40)
    object_id: str | None = Field(default=None, max_length=64, index=True)
    object_countries: str = Field(default="", max_length=400)
    outcome: str = Field(max_length=10)
    status_code: int
    ip: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=64)
    detail: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditEventRead(BaseModel):
    seq: int
    id: str
    at: datetime
    actor_client: str | None
    actor_agency: str | None
    actor_country: str | None
    action: str
    object_type: str | None
    object_id: str | None
    outcome: str
    status_code: int
    ip: str | None
    request_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None


class VerifyResult(BaseModel):
    ok: bool
    checked: int
    head_hash: str
    first_bad_seq: int | None
