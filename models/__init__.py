"""Tables and schemas; importing this package registers every table on the metadata."""

from models.audit import AuditEvent
from models.records import Ack, IdempotencyKey, Record, RecordVersion
from models.registry import Agency, Client, Country
from models.tokens import RevokedToken

__all__ = [
    "Ack",
    "AuditEvent",
    "Agency",
    "Client",
    "Country",
    "IdempotencyKey",
    "Record",
    "RecordVersion",
    "RevokedToken",
]
