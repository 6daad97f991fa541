"""The tables as SQLAlchemy Core sees them, for the statements that need no ORM objects
(claiming, expansion, the audit chain): declared here once."""

from typing import cast

from sqlalchemy import Table

from models.audit import AuditEvent
from models.budgets import RateBucket
from models.events import Event
from models.records import Record, RecordVersion
from models.registry import Agency
from models.sightings import Sighting
from models.subscriptions import Delivery, DeliveryAttempt, DispatcherState, Replay, Subscription
from models.vessels import VesselLink


def _table(model: type) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


AGENCY = _table(Agency)
ATTEMPT = _table(DeliveryAttempt)
AUDIT = _table(AuditEvent)
BUCKET = _table(RateBucket)
DELIVERY = _table(Delivery)
DISPATCHER_STATE = _table(DispatcherState)
EVENT = _table(Event)
RECORD = _table(Record)
REPLAY = _table(Replay)
SUBSCRIPTION = _table(Subscription)
VERSION = _table(RecordVersion)
SIGHTING = _table(Sighting)
VESSEL_LINK = _table(VesselLink)
