"""When the dispatcher next looks at each subscription: its turn, and its circuit.

Claiming goes subscription by subscription, not delivery by delivery: `subscription.due_at`
is when a subscription next has work, and each round serves the subscriptions that have
waited longest, a few deliveries each (delivery/outbox.py). A subscription served goes to
the back of the line, so however large one partner's backlog, every other partner's turn
comes within a round or two.

A subscription whose receiver keeps failing backs off as a whole: after CIRCUIT_THRESHOLD
failures in a row its circuit opens, nothing is sent to it until its wait is over, then one
delivery at a time (a probe) until one succeeds. Its backlog waits in the database. A 429 or
503 with Retry-After opens the circuit for as long as the receiver asked.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, or_, select

from models.tables import DELIVERY, SUBSCRIPTION

CIRCUIT_THRESHOLD = 3  # failures in a row that open a subscription's circuit
CIRCUIT_WAITS = (5, 30, 120, 300, 900)  # seconds between probes while it stays open
RECOVERED_LIMIT = 1000  # failed deliveries brought forward when a circuit closes

_WAKE = (
    SUBSCRIPTION.update()
    .where(
        SUBSCRIPTION.c.id.in_(bindparam("ids", expanding=True)),
        SUBSCRIPTION.c.consecutive_failures < CIRCUIT_THRESHOLD,
        or_(SUBSCRIPTION.c.due_at.is_(None), SUBSCRIPTION.c.due_at > bindparam("now")),
    )
    .values(due_at=bindparam("now"))
)
_NEXT_DUE = (
    select(func.min(DELIVERY.c.next_attempt_at))
    .where(DELIVERY.c.subscription_id == SUBSCRIPTION.c.id, DELIVERY.c.state == "pending")
    .scalar_subquery()
)

_THESE = SUBSCRIPTION.c.id.in_(bindparam("ids", expanding=True))
_DUE_AT = SUBSCRIPTION.update().where(_THESE).values(due_at=bindparam("when"))
_DUE_NEXT = SUBSCRIPTION.update().where(_THESE).values(due_at=_NEXT_DUE)


def is_open(consecutive_failures: int) -> bool:
    return consecutive_failures >= CIRCUIT_THRESHOLD


def circuit_wait(consecutive_failures: int) -> timedelta:
    """How long an open circuit waits before its next probe."""
    step = min(consecutive_failures - CIRCUIT_THRESHOLD, len(CIRCUIT_WAITS) - 1)
    return timedelta(seconds=CIRCUIT_WAITS[max(step, 0)])


def wake(connection: Connection, subscription_ids: Iterable[str], now: datetime) -> None:
    """New work for these subscriptions is due now (a closed circuit is not woken early)."""
    ids = list(set(subscription_ids))
    if ids:
        connection.execute(_WAKE, {"ids": ids, "now": now})


def wake_now(connection: Connection, subscription_id: str, now: datetime) -> None:
    """An agency asked for this subscription to be tried now (ping, redeliver, enable)."""
    connection.execute(
        SUBSCRIPTION.update().where(SUBSCRIPTION.c.id == subscription_id).values(due_at=now)
    )


def served(
    connection: Connection,
    now: datetime,
    *,
    more: list[str],
    probing: list[str],
    drained: list[str],
    lease: timedelta,
) -> None:
    """After a claim: subscriptions that may have more due go to the back of the line; one
    whose probe is out waits for it (or its lease); the others are next looked at when
    their earliest pending delivery falls due (one in flight counts from when its lease
    runs out), or never if none is left."""
    if more:
        connection.execute(_DUE_AT, {"ids": more, "when": now})
    if probing:
        connection.execute(_DUE_AT, {"ids": probing, "when": now + lease})
    if drained:
        connection.execute(_DUE_NEXT, {"ids": drained})


def after_failure(
    failures: int,
    due_at: datetime | None,
    retry_at: datetime,
    now: datetime,
    retry_after: float | None,
) -> tuple[int, datetime]:
    """A subscription's failures in a row and when it is next looked at, after one more
    failure: by the failed delivery's retry while the circuit is closed; once it is open
    (or the receiver asked to wait), after the circuit's wait."""
    failures += 1
    if retry_after is not None:
        failures = max(failures, CIRCUIT_THRESHOLD)
        return failures, now + max(timedelta(seconds=retry_after), circuit_wait(failures))
    if is_open(failures):
        return failures, now + circuit_wait(failures)
    return failures, min(due_at, retry_at) if due_at is not None else retry_at


def recovered(connection: Connection, subscription_ids: Iterable[str], now: datetime) -> None:
    """Successes end a run of failures. Where they close an open circuit, the subscription's
    turn comes again at once, and what failed while it was open is due now rather than at
    its own (by then long) retry."""
    ids = list(set(subscription_ids))
    if not ids:
        return
    failing = connection.execute(
        select(SUBSCRIPTION.c.id, SUBSCRIPTION.c.consecutive_failures).where(
            SUBSCRIPTION.c.id.in_(ids),
            or_(SUBSCRIPTION.c.consecutive_failures > 0, SUBSCRIPTION.c.failing_since.isnot(None)),
        )
    ).all()
    if not failing:
        return
    connection.execute(
        SUBSCRIPTION.update()
        .where(SUBSCRIPTION.c.id.in_([row.id for row in failing]))
        .values(consecutive_failures=0, failing_since=None)
    )
    reopened = [row.id for row in failing if is_open(row.consecutive_failures)]
    for subscription_id in reopened:
        failed_meanwhile = (
            select(DELIVERY.c.id)
            .where(
                DELIVERY.c.subscription_id == subscription_id,
                DELIVERY.c.state == "pending",
                DELIVERY.c.next_attempt_at > now,
                DELIVERY.c.attempts > 0,
                or_(DELIVERY.c.lease_until.is_(None), DELIVERY.c.lease_until <= now),
            )
            .limit(RECOVERED_LIMIT)
        )
        due_now = [row.id for row in connection.execute(failed_meanwhile)]
        if due_now:
            connection.execute(
                DELIVERY.update().where(DELIVERY.c.id.in_(due_now)).values(next_attempt_at=now)
            )
    if reopened:
        connection.execute(
            SUBSCRIPTION.update().where(SUBSCRIPTION.c.id.in_(reopened)).values(due_at=now)
        )
