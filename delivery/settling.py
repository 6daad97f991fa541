"""Settling: each finished attempt is recorded, audited as a disclosure, and scheduled on.

The dispatcher settles every attempt that finished meanwhile in one writer unit
(`settle_many`): successes, the common case, in a few plain Core statements for the whole
batch; failures one by one (`settle`), as they decide retries and may disable a subscription.

Only an attempt that still holds its delivery's lease decides what becomes of the delivery.
One that answered after the delivery was sent again (redelivered, replayed, or its lease run
out and claimed anew) is recorded and audited, and its answer counts for its subscription
(a success ends a run of failures, a 410 disables), but the delivery is the later attempt's:
a late failure once turned a delivered alert back to failed, or a redelivery into nothing.
"""

import json
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session

from core.clock import iso
from delivery import pacing
from delivery.jobs import DISABLE_AFTER, RETRY_AFTER_MAX_SECONDS, RETRY_SCHEDULE, Job, Result
from models.registry import Agency
from models.subscriptions import Delivery, Subscription
from models.tables import ATTEMPT, DELIVERY, SUBSCRIPTION
from services.audit import trail
from services.records.events import emit

Finished = tuple[Job, Result, datetime]  # an attempt, what came of it, and when
DELIVERED = (
    DELIVERY.update()
    .where(DELIVERY.c.id == bindparam("b_id"), DELIVERY.c.lease_until == bindparam("b_lease"))
    .values(
        state="succeeded",
        attempts=bindparam("b_attempts"),
        lease_until=None,
        last_status=bindparam("b_status"),
        last_error=None,
        delivered_at=bindparam("b_at"),
    )
)

# Each settled delivery's subscription: is it failing? (built once: every settle asks)
_FAILING = (
    core_select(DELIVERY.c.id, SUBSCRIPTION.c.failing_since)
    .join(SUBSCRIPTION, SUBSCRIPTION.c.id == DELIVERY.c.subscription_id)
    .where(DELIVERY.c.id.in_(bindparam("ids", expanding=True)))
)
_ATTEMPT = ATTEMPT.insert()


def settle_many(session: Session, finished: Sequence[Finished]) -> list[str]:
    """Settle attempts; return each one's outcome, as `settle` does. Failures are settled
    first, so a success in the batch ends its subscription's run of failures even when a
    failure of the same subscription settles beside it (the receiver answers again)."""
    connection = session.connection()
    ids = [job.delivery_id for job, _, _ in finished]
    failing = {
        row.id: row.failing_since is not None for row in connection.execute(_FAILING, {"ids": ids})
    }
    outcomes: list[str] = []
    delivered: list[Finished] = []
    for job, result, now in finished:
        if job.delivery_id not in failing:
            outcomes.append("gone")
        elif result.delivered:
            delivered.append((job, result, now))
            outcomes.append("delivered")
        else:
            outcomes.append(settle(session, job, result, now))
    if not delivered:
        return outcomes
    session.flush()  # the failures' ORM changes first, then the successes in Core
    connection.execute(_ATTEMPT, [_attempt(*done) for done in delivered])
    connection.execute(
        DELIVERED,
        [
            {
                "b_id": job.delivery_id,
                "b_lease": job.lease_until,
                "b_attempts": job.attempt,
                "b_status": r.status,
                "b_at": t,
            }
            for job, r, t in delivered
        ],
    )
    if any(failing.values()) or len(outcomes) > len(delivered):
        session.flush()
        when = max(at for _, _, at in delivered)
        pacing.recovered(connection, [job.subscription_id for job, _, _ in delivered], when)
        session.expire_all()  # ORM copies of those subscriptions are stale now
    trail.append_many(session, [_disclosure(job, result) for job, result, _ in delivered])
    return outcomes


def settle(session: Session, job: Job, result: Result, now: datetime) -> str:
    """Record the attempt (and audit it as a disclosure), then schedule what comes next.

    Return the outcome, as counted in metrics: `delivered`, `retry` (another attempt is
    scheduled), `gave_up` (the retry schedule is spent), `disabled` (410, or 72 h failing),
    `superseded` (a failure after the delivery was sent again), or `gone` (the subscription
    was deleted meanwhile).
    """
    delivery = session.get(Delivery, job.delivery_id)
    sub = session.get(Subscription, job.subscription_id)
    if delivery is None or sub is None:
        return "gone"
    session.connection().execute(_ATTEMPT, _attempt(job, result, now))
    trail.append(session, _disclosure(job, result))
    # else sent again meanwhile, not its own (and a job with no lease holds none, as in
    # DELIVERED, where NULL matches nothing)
    held = job.lease_until is not None and delivery.lease_until == job.lease_until
    if held:
        delivery.attempts, delivery.lease_until = job.attempt, None
        delivery.last_status = result.status
        delivery.last_error = (result.error or "")[:500] or None
    if result.delivered:
        if held:
            delivery.state, delivery.delivered_at = "succeeded", now
        session.add(delivery)
        session.flush()
        pacing.recovered(session.connection(), [sub.id], now)
        session.refresh(sub)
        return "delivered"
    if result.status == 410:
        if held:
            delivery.state = "failed"
        _disable(session, sub, "the receiver answered 410 Gone", now)
        outcome = "disabled"
    else:
        sub.failing_since = sub.failing_since or now
        outcome = "retry" if held else "superseded"
        if held and job.attempt > len(RETRY_SCHEDULE):
            delivery.state, outcome = "failed", "gave_up"
        elif held:
            delay = result.retry_after or RETRY_SCHEDULE[job.attempt - 1] * random.uniform(0.8, 1.2)
            delivery.next_attempt_at = now + timedelta(seconds=min(delay, RETRY_AFTER_MAX_SECONDS))
        sub.consecutive_failures, sub.due_at = pacing.after_failure(
            sub.consecutive_failures,
            sub.due_at,
            delivery.next_attempt_at,
            now,
            result.retry_after,
        )
        if sub.enabled and now - sub.failing_since >= DISABLE_AFTER:
            _disable(session, sub, "failing for 72 hours", now)
            outcome = "disabled"
    session.add(delivery)
    session.add(sub)
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


def _attempt(job: Job, result: Result, now: datetime) -> dict[str, object]:
    return {
        "delivery_id": job.delivery_id,
        "number": job.attempt,
        "at": now,
        "status_code": result.status,
        "latency_ms": round(result.latency_ms, 1),
        "error": (result.error or "")[:500] or None,
        "response_excerpt": result.excerpt,
    }


def _disclosure(job: Job, result: Result) -> trail.Entry:
    """An attempt discloses the record to the recipient agency, delivered or not."""
    return trail.Entry(
        action=f"webhook {job.event_type}",
        outcome="success" if result.delivered else "error",
        status_code=result.status or 0,
        actor_client="rilon-dispatcher",
        actor_agency=job.agency,
        actor_country=job.agency_country,
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
    )
