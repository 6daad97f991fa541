"""The one source of the current time, so tests can drive it."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
