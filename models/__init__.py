"""Tables and schemas; importing this package registers every table on the metadata."""

from models.records import Ack, IdempotencyKey, Record, RecordVersion
from models.registry import Agency, Client, Country
from models.tokens import RevokedToken

__all__ = [
    "Ack",
    "Agency",
    "Client",
    "Country",
    "IdempotencyKey",
    "Record",
    "RecordVersion",
    "RevokedToken",
]
