"""What the dispatcher hands a sender (a Job) and what it hands back (a Result), and the
schedule a failed delivery is retried on."""

from dataclasses import dataclass
from datetime import datetime, timedelta

RETRY_SCHEDULE = [5, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400]
# a receiver's Retry-After is honoured up to a day, as a retry is put off (INTEGRATION.md)
RETRY_AFTER_MAX_SECONDS = 86_400
DISABLE_AFTER = timedelta(hours=72)
LEASE = timedelta(seconds=60)
RECORD_TYPES = {
    "alert": "alerts",
    "distress": "distress-reports",
    "subscription": "subscriptions",
    "registry": "agencies",
}


@dataclass(frozen=True)
class Job:
    """A claimed delivery, with all the sender needs and nothing it must look up."""

    delivery_id: str
    subscription_id: str
    agency: str
    url: str
    secrets: tuple[str, ...]
    event_id: str
    event_type: str
    body: str
    attempt: int
    record_id: str | None
    record_type: str | None
    record_country: str | None = None  # filed in the audit row without a SELECT
    agency_country: str | None = None  # the recipient's: its auditors see the disclosure
    # The lease this attempt was claimed under. Once the delivery was sent again meanwhile (a
    # redelivery, a replay, the lease run out and claimed anew), this attempt's answer is
    # recorded but no longer decides what becomes of the delivery (delivery/settling.py).
    lease_until: datetime | None = None


@dataclass(frozen=True)
class Result:
    status: int | None
    latency_ms: float
    error: str | None = None
    excerpt: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300
