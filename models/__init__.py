"""Tables and schemas; importing this package registers every table on the metadata."""

from models.audit import AuditEvent
from models.budgets import RateBucket
from models.events import Event
from models.records import Ack, IdempotencyKey, Record, RecordVersion
from models.registry import Agency, Client, Country
from models.sightings import Sighting
from models.subscriptions import (
    Delivery,
    DeliveryAttempt,
    DispatcherState,
    Replay,
    Subscription,
)
from models.tokens import RevokedToken
from models.vessels import VesselLink

__all__ = [
    "Ack",
    "AuditEvent",
    "Agency",
    "Client",
    "Country",
    "Delivery",
    "DeliveryAttempt",
    "DispatcherState",
    "Event",
    "IdempotencyKey",
    "RateBucket",
    "Record",
    "RecordVersion",
    "Replay",
    "RevokedToken",
    "Sighting",
    "Subscription",
    "VesselLink",
]
