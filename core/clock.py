"""The one source of the current time, so tests can drive it."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """RFC 3339 with a `Z`, as every JSON answer and event writes times."""
    return moment.isoformat().replace("+00:00", "Z")
