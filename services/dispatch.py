"""The outbox side of webhooks: deliveries are claimed and settled (events become deliveries
in `services/expansion.py`).

Each function is one unit of work for the writer. On PostgreSQL several workers may run them
at once: claiming uses FOR UPDATE SKIP LOCKED and a lease, so no delivery is held by two.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, or_
from sqlalchemy import select as core_select
from sqlmodel import Session

from core.crypto import SecretBox
from models.events import Event
from models.registry import Agency
from models.subscriptions import Delivery, DeliveryAttempt, Subscription
from services.events import event_json

DELIVERY = cast(Table, Delivery.__table__)  # type: ignore[attr-defined]
SUBSCRIPTION = cast(Table, Subscription.__table__)  # type: ignore[attr-defined]
ATTEMPT = cast(Table, DeliveryAttempt.__table__)  # type: ignore[attr-defined]
EVENT = cast(Table, Event.__table__)  # type: ignore[attr-defined]
AGENCY = cast(Table, Agency.__table__)  # type: ignore[attr-defined]
DUE_COLUMNS = [
    DELIVERY.c[name]
    for name in ("id", "subscription_id", "event_seq", "event_id", "event_type", "payload")
] + [DELIVERY.c.attempts]
SIGNING_COLUMNS = [
    SUBSCRIPTION.c[name]
    for name in ("id", "agency", "url", "secret", "previous_secret", "previous_secret_until")
]
RECIPIENT_COLUMNS = [*SIGNING_COLUMNS, AGENCY.c.country]  # its auditors see the disclosure
EVENT_COLUMNS = [
    EVENT.c[name] for name in ("seq", "id", "type", "at", "data", "record_id", "kind")
] + [EVENT.c.sender_country]
RETRY_SCHEDULE = [5, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400]
DISABLE_AFTER = timedelta(hours=72)
LEASE = timedelta(seconds=60)
RECORD_TYPES = {"alert": "alerts", "distress": "distress-reports", "subscription": "subscriptions"}


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


def claim(
    session: Session,
    box: SecretBox,
    now: datetime,
    limit: int,
    per_subscription: int = 4,
    busy: dict[str, int] | None = None,
    lease: timedelta = LEASE,
) -> list[Job]:
    """Lease due deliveries of enabled subscriptions to this worker, at most
    `per_subscription` in flight for any one subscription.

    Plain Core rows, not ORM objects: each subscription's secrets are opened and each event
    rendered once a claim, and the lease is one UPDATE."""
    connection = session.connection()
    due = connection.execute(
        core_select(*DUE_COLUMNS)
        .join(SUBSCRIPTION, SUBSCRIPTION.c.id == DELIVERY.c.subscription_id)
        .where(
            DELIVERY.c.state == "pending",
            DELIVERY.c.next_attempt_at <= now,
            or_(DELIVERY.c.lease_until.is_(None), DELIVERY.c.lease_until < now),
            SUBSCRIPTION.c.enabled.is_(True),
        )
        .order_by(DELIVERY.c.next_attempt_at)
        .limit(limit * 4)
        .with_for_update(skip_locked=True, of=DELIVERY)
    ).all()
    taken = dict(busy or {})
    chosen: list[Row[Any]] = []
    for delivery in due:
        if len(chosen) >= limit or taken.get(delivery.subscription_id, 0) >= per_subscription:
            continue
        taken[delivery.subscription_id] = taken.get(delivery.subscription_id, 0) + 1
        chosen.append(delivery)
    if not chosen:
        return []
    connection.execute(
        DELIVERY.update()
        .where(DELIVERY.c.id.in_([delivery.id for delivery in chosen]))
        .values(lease_until=now + lease)
    )
    subs = {
        sub.id: (sub, tuple(_secrets(box, sub, now)))
        for sub in connection.execute(
            core_select(*RECIPIENT_COLUMNS)
            .join(AGENCY, AGENCY.c.code == SUBSCRIPTION.c.agency)
            .where(SUBSCRIPTION.c.id.in_({delivery.subscription_id for delivery in chosen}))
        )
    }
    seqs = {delivery.event_seq for delivery in chosen if delivery.event_seq is not None}
    bodies = {
        event.seq: (
            event_json(event.seq, event.id, event.type, event.at, event.data),
            event.record_id,
            RECORD_TYPES.get(event.kind),
            event.sender_country,
        )
        for event in (
            connection.execute(core_select(*EVENT_COLUMNS).where(EVENT.c.seq.in_(seqs)))
            if seqs
            else ()
        )
    }
    jobs: list[Job] = []
    for delivery in chosen:
        sub, secrets = subs[delivery.subscription_id]
        body, record_id, record_type, country = delivery.payload, None, None, None
        if delivery.event_seq is not None:
            body, record_id, record_type, country = bodies[delivery.event_seq]
        jobs.append(
            Job(
                delivery.id,
                sub.id,
                sub.agency,
                sub.url,
                secrets,
                delivery.event_id,
                delivery.event_type,
                body or "{}",
                delivery.attempts + 1,
                record_id,
                record_type,
                country if record_type in ("alerts", "distress-reports") else None,
                agency_country=sub.country,
            )
        )
    return jobs


def _secrets(box: SecretBox, sub: Row[Any], now: datetime) -> list[str]:
    """The current secret, and during a rotation the previous one too."""
    keys = [box.open(sub.secret)]
    if sub.previous_secret and sub.previous_secret_until and sub.previous_secret_until > now:
        keys.append(box.open(sub.previous_secret))
    return keys
