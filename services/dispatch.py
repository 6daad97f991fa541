"""The outbox side of webhooks: events become deliveries, deliveries are claimed and settled.

Each function is one unit of work for the writer. On PostgreSQL several workers may run them
at once: claiming uses FOR UPDATE SKIP LOCKED and a lease, so no delivery is held by two.
"""

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, or_
from sqlmodel import Session, col, select

from auth.policy import Reader, can_agency_read
from core.crypto import SecretBox
from models.enums import AgencyType
from models.events import Event
from models.registry import Agency
from models.subscriptions import Delivery, DeliveryAttempt, DispatcherState, Subscription
from services import audit
from services.events import emit, event_json
from services.matching import matches
from services.records import iso

DELIVERY = cast(Table, Delivery.__table__)  # type: ignore[attr-defined]
SUBSCRIPTION = cast(Table, Subscription.__table__)  # type: ignore[attr-defined]
ATTEMPT = cast(Table, DeliveryAttempt.__table__)  # type: ignore[attr-defined]
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


def expand(session: Session, now: datetime, batch: int = 500) -> int:
    """Turn new events into deliveries for every enabled subscription that matches and whose
    agency may read the event (the same policy as every read path)."""
    state = session.get(DispatcherState, "expander", with_for_update=True)
    if state is None:
        state = DispatcherState(name="expander", last_seq=0)
    events = session.exec(
        select(Event).where(col(Event.seq) > state.last_seq).order_by(col(Event.seq)).limit(batch)
    ).all()
    state.heartbeat_at = now
    if events:
        subscribers = session.exec(
            select(Subscription, Agency).join(Agency, col(Agency.code) == col(Subscription.agency))
        ).all()
        rows = [
            {
                "id": str(uuid.uuid4()),
                "subscription_id": sub.id,
                "event_seq": event.seq,
                "event_id": event.id,
                "event_type": event.type,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event in events
            for sub, agency in subscribers
            if matches(sub.event_types, sub.filter, event)
            and can_agency_read(Reader(agency.code, agency.country, AgencyType(agency.type)), event)
        ]
        if rows:
            session.connection().execute(DELIVERY.insert(), rows)
        state.last_seq = events[-1].seq or state.last_seq
    session.add(state)
    return len(events)


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
    `per_subscription` in flight for any one subscription."""
    due = session.exec(
        select(Delivery)
        .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
        .where(
            col(Delivery.state) == "pending",
            col(Delivery.next_attempt_at) <= now,
            or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < now),
            col(Subscription.enabled).is_(True),
        )
        .order_by(col(Delivery.next_attempt_at))
        .limit(limit * 4)
        .with_for_update(skip_locked=True, of=Delivery)
    ).all()
    jobs: list[Job] = []
    taken = dict(busy or {})
    signing: dict[str, tuple[Subscription, list[str]]] = {}  # each secret opened once a claim
    bodies: dict[int, tuple[str, str, str | None, str]] = {}  # each event rendered once
    for delivery in due:
        if len(jobs) >= limit or taken.get(delivery.subscription_id, 0) >= per_subscription:
            continue
        taken[delivery.subscription_id] = taken.get(delivery.subscription_id, 0) + 1
        if delivery.subscription_id not in signing:
            found = session.get(Subscription, delivery.subscription_id)
            assert found is not None
            keys = [box.open(found.secret)]
            if (
                found.previous_secret
                and found.previous_secret_until
                and found.previous_secret_until > now
            ):
                keys.append(box.open(found.previous_secret))
            signing[delivery.subscription_id] = (found, keys)
        sub, secrets = signing[delivery.subscription_id]
        delivery.lease_until = now + lease
        session.add(delivery)
        body, record_id, record_type, country = delivery.payload, None, None, None
        if delivery.event_seq is not None:
            if delivery.event_seq not in bodies:
                event = session.get(Event, delivery.event_seq)
                assert event is not None
                assert event.seq is not None
                bodies[delivery.event_seq] = (
                    event_json(event.seq, event.id, event.type, event.at, event.data),
                    event.record_id,
                    RECORD_TYPES.get(event.kind),
                    event.sender_country,
                )
            body, record_id, record_type, country = bodies[delivery.event_seq]
        jobs.append(
            Job(
                delivery.id,
                sub.id,
                sub.agency,
                sub.url,
                tuple(secrets),
                delivery.event_id,
                delivery.event_type,
                body or "{}",
                delivery.attempts + 1,
                record_id,
                record_type,
                country if record_type in ("alerts", "distress-reports") else None,
            )
        )
    return jobs


def settle(session: Session, job: Job, result: Result, now: datetime) -> str:
    """Record the attempt (and audit it as a disclosure), then schedule what comes next.

    Return the outcome, as counted in metrics: `delivered`, `retry` (another attempt is
    scheduled), `gave_up` (the retry schedule is spent), `disabled` (410, or 72 h failing), or
    `gone` (the subscription was deleted meanwhile).
    """
    delivery = session.get(Delivery, job.delivery_id)
    sub = session.get(Subscription, job.subscription_id)
    if delivery is None or sub is None:
        return "gone"
    session.connection().execute(
        ATTEMPT.insert(),
        {
            "delivery_id": delivery.id,
            "number": job.attempt,
            "at": now,
            "status_code": result.status,
            "latency_ms": round(result.latency_ms, 1),
            "error": (result.error or "")[:500] or None,
            "response_excerpt": result.excerpt,
        },
    )
    delivery.attempts, delivery.lease_until = job.attempt, None
    delivery.last_status, delivery.last_error = result.status, (result.error or "")[:500] or None
    if result.delivered:
        delivery.state, delivery.delivered_at = "succeeded", now
        sub.failing_since = None
        outcome = "delivered"
    elif result.status == 410:
        delivery.state = "failed"
        _disable(session, sub, "the receiver answered 410 Gone", now)
        outcome = "disabled"
    else:
        sub.failing_since = sub.failing_since or now
        outcome = "retry"
        if job.attempt > len(RETRY_SCHEDULE):
            delivery.state, outcome = "failed", "gave_up"
        else:
            delay = result.retry_after or RETRY_SCHEDULE[job.attempt - 1] * random.uniform(0.8, 1.2)
            delivery.next_attempt_at = now + timedelta(seconds=min(delay, 86400))
        if sub.enabled and now - sub.failing_since >= DISABLE_AFTER:
            _disable(session, sub, "failing for 72 hours", now)
            outcome = "disabled"
    session.add(delivery)
    session.add(sub)
    audit.append(
        session,
        audit.Entry(
            action=f"webhook {job.event_type}",
            outcome="success" if result.delivered else "error",
            status_code=result.status or 0,
            actor_client="rilon-dispatcher",
            actor_agency=job.agency,
            object_type=job.record_type,
            object_id=job.record_id,
            object_countries=[job.record_country] if job.record_country else [],
            detail={
                "subscription": job.subscription_id,
                "delivery": job.delivery_id,
                "attempt": job.attempt,
                "event": job.event_id,
                "error": result.error,
            },
        ),
    )
    return outcome


def _disable(session: Session, sub: Subscription, reason: str, now: datetime) -> None:
    """Disable a subscription and tell its agency, by an event only that agency sees."""
    sub.enabled, sub.disabled_reason, sub.updated_at = False, reason, now
    agency = session.get(Agency, sub.agency)
    data = {
        "id": sub.id,
        "agency": sub.agency,
        "url": sub.url,
        "enabled": False,
        "disabled_reason": reason,
        "failing_since": sub.failing_since and iso(sub.failing_since),
    }
    columns = {
        "id": sub.id,
        "kind": "subscription",
        "status": "actual",
        "sender_agency": sub.agency,
        "sender_country": agency.country if agency else "",
        "distribution": "agency",
        "tlp": "red",
        "recipient_countries": "",
        "recipient_agencies": "",
        "category": None,
        "severity_rank": 0,
        "lat": 0.0,
        "lon": 0.0,
    }
    emit(session, "subscription.disabled", columns, json.dumps(data, separators=(",", ":")))


def heartbeat(session: Session) -> datetime | None:
    state = session.get(DispatcherState, "expander")
    return state.heartbeat_at if state else None
