"""Webhook subscriptions, their deliveries and every attempt."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.alerts import Category, Severity
from models.base import UTCDateTime
from models.envelope import CountryCode, Timestamp
from models.inputs import Input
from models.shapes import Polygon

EventType = Literal[
    "*",
    "alert.created",
    "alert.updated",
    "alert.cancelled",
    "alert.acknowledged",
    "alert.ack_overdue",
    "distress.created",
    "distress.updated",
    "distress.closed",
    "distress.acknowledged",
    "sighting.created",
    "distress.ack_overdue",
    "distress.coordination_changed",
    "alert.redacted",
    "distress.redacted",
    "alert.purged",
    "distress.purged",
    "subscription.disabled",
    "client.created",
    "agency.created",
]


class Subscription(SQLModel, table=True):
    id: str = SQLField(primary_key=True, max_length=36)
    agency: str = SQLField(foreign_key="agency.code", index=True, max_length=32)
    client_id: str = SQLField(max_length=64)
    url: str = SQLField(max_length=2000)
    description: str | None = SQLField(default=None, max_length=500)
    event_types: list[str] = SQLField(sa_column=Column(JSON, nullable=False))
    filter: dict[str, Any] = SQLField(sa_column=Column(JSON, nullable=False))
    secret: str = SQLField(sa_column=Column(Text, nullable=False))  # sealed (core/crypto.py)
    previous_secret: str | None = SQLField(default=None, sa_column=Column(Text))
    previous_secret_until: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    enabled: bool = True
    disabled_reason: str | None = SQLField(default=None, max_length=200)
    failing_since: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    # When the dispatcher next looks at it (delivery/pacing.py): null when nothing waits.
    due_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime, index=True)
    consecutive_failures: int = SQLField(default=0, sa_column_kwargs={"server_default": "0"})
    # set by DELETE: its deliveries are purged a chunk a round, then the row itself
    deleted_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = SQLField(sa_type=UTCDateTime)
    updated_at: datetime = SQLField(sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One event for one subscription. `payload` is set for pings, which have no event row."""

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_seq"),
        Index("ix_delivery_due", "state", "next_attempt_at"),
        # each subscription's queue, oldest due first: claiming reads only its head
        Index("ix_delivery_queue", "subscription_id", "state", "next_attempt_at"),
        Index("ix_delivery_listing", "subscription_id", "created_at"),
    )

    id: str = SQLField(primary_key=True, max_length=36)
    subscription_id: str = SQLField(foreign_key="subscription.id", max_length=36)
    event_seq: int | None = SQLField(default=None, foreign_key="event.seq")
    event_id: str = SQLField(max_length=36)
    event_type: str = SQLField(max_length=30)
    payload: str | None = SQLField(default=None, sa_column=Column(Text))
    state: str = SQLField(max_length=12)  # pending | succeeded | failed
    attempts: int = 0
    next_attempt_at: datetime = SQLField(sa_type=UTCDateTime)
    lease_until: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    last_status: int | None = None
    last_error: str | None = SQLField(default=None, max_length=500)
    created_at: datetime = SQLField(sa_type=UTCDateTime)
    delivered_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"

    id: int | None = SQLField(default=None, primary_key=True)
    delivery_id: str = SQLField(foreign_key="delivery.id", index=True, max_length=36)
    number: int
    at: datetime = SQLField(sa_type=UTCDateTime)
    status_code: int | None = None
    latency_ms: float
    error: str | None = SQLField(default=None, max_length=500)
    response_excerpt: str | None = SQLField(default=None, max_length=500)


class Replay(SQLModel, table=True):
    """A subscription's replay, queued a chunk a dispatcher round (delivery/replays.py)."""

    subscription_id: str = SQLField(primary_key=True, foreign_key="subscription.id", max_length=36)
    id: str = SQLField(max_length=36, unique=True)
    since: datetime = SQLField(sa_type=UTCDateTime)
    after_seq: int  # events up to this one are done
    last_seq: int  # the newest event when it was asked for: the replay ends there
    queued: int = 0
    state: str = SQLField(max_length=12)  # running | done
    created_at: datetime = SQLField(sa_type=UTCDateTime)
    finished_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class DispatcherState(SQLModel, table=True):
    __tablename__ = "dispatcher_state"

    name: str = SQLField(primary_key=True, max_length=40)
    last_seq: int = 0
    # Of the event after `last_seq`, the subscriptions up to this id have their deliveries
    # (an event to more subscriptions than a writer unit takes is expanded over several)
    after_subscription: str | None = SQLField(default=None, max_length=36)
    heartbeat_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class SubscriptionFilter(Input):
    categories: list[Category] | None = Field(default=None, description="Alerts only")
    min_severity: Severity | None = Field(
        default=None, description="Distress reports rank by SAR phase, as in lists"
    )
    sender_countries: list[CountryCode] | None = None
    bbox: tuple[StrictFloat, StrictFloat, StrictFloat, StrictFloat] | None = Field(
        default=None, description="[minLon, minLat, maxLon, maxLat]"
    )
    area: Polygon | None = Field(default=None, description="GeoJSON Polygon; [lon, lat]")
    include_exercise: StrictBool = False

    @model_validator(mode="after")
    def _bbox(self) -> "SubscriptionFilter":
        if self.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = self.bbox
            if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
                raise ValueError("bbox longitudes within -180..180")
            if not (-90 <= min_lat <= max_lat <= 90):
                raise ValueError("bbox latitudes within -90..90, min first")
        return self


class SubscriptionCreate(Input):
    url: str = Field(min_length=8, max_length=2000, examples=["https://mmea.example.my/rilon"])
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventType] = Field(min_length=1, max_length=10, examples=[["*"]])
    filter: SubscriptionFilter = Field(default_factory=SubscriptionFilter)

    model_config = {
        "json_schema_extra": {
            # first an exercise: `.example` never resolves (RFC 2606), so nothing is sent
            "examples": [
                {
                    "url": "https://exercise.example/hooks/rilon",
                    "description": "EXERCISE: try subscriptions; nothing is delivered",
                    "event_types": ["alert.created", "distress.created"],
                    "filter": {"include_exercise": True},
                },
                {
                    "url": "https://ops.mmea.example.my/hooks/rilon",
                    "description": "MMEA operations centre",
                    "event_types": ["alert.created", "alert.updated", "distress.created"],
                    "filter": {"min_severity": "severe", "bbox": [90, 0, 100, 15]},
                },
            ]
        }
    }


class SubscriptionPatch(Input):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"description": "EXERCISE: renamed from /docs"},
                {"filter": {"min_severity": "extreme", "include_exercise": False}},
            ]
        }
    }

    # url and event_types may be left out, not cleared: documented as not nullable
    url: str | SkipJsonSchema[None] = Field(default=None, min_length=8, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventType] | SkipJsonSchema[None] = Field(
        default=None, min_length=1, max_length=10
    )
    filter: SubscriptionFilter | None = None

    @field_validator("url", "event_types", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null; leave it out to keep it")
        return value


class SubscriptionRead(BaseModel):
    id: str
    agency: str
    url: str
    description: str | None
    event_types: list[str]
    filter: dict[str, Any]
    enabled: bool
    disabled_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="`whsec_…`: shown once; verify signatures with it")


class ReplayRequest(Input):
    since: Timestamp = Field(
        description="Re-send the matching events from this time on (at most 30 days back, "
        "by default; older events are in the feed)"
    )


class ReplayRead(BaseModel):
    id: str
    state: Literal["running", "done"] = Field(description="`done` once every event is queued")
    since: Timestamp
    queued: int = Field(description="Deliveries queued so far")
    remaining: int = Field(description="Events still to look at")
    created_at: Timestamp
    finished_at: Timestamp | None


class AttemptRead(BaseModel):
    number: int
    at: Timestamp
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str | None = Field(description="The first 500 characters answered")


class DeliveryRead(BaseModel):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    state: str
    attempts: list[AttemptRead]
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None
