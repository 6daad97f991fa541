"""How far behind the webhook outbox is, measured in a few indexed queries at scrape time."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.events import Event
from models.subscriptions import Delivery, DispatcherState, Subscription


@dataclass(frozen=True)
class Backlog:
    events_pending: int  # committed events the dispatcher has not expanded into deliveries yet
    oldest_event_at: datetime | None
    deliveries_pending: int  # of enabled subscriptions: the dispatcher's work queue
    oldest_delivery_at: datetime | None
    deliveries_held: int  # of disabled subscriptions: they wait for `enable`
    heartbeat_at: datetime | None


def measure(session: Session) -> Backlog:
    """Count what waits; each query walks an index (event.seq, ix_delivery_due) over the
    pending rows only, so a scrape costs as much as the backlog is long, not the history."""
    state = session.get(DispatcherState, "expander")
    last_seq = state.last_seq if state else 0
    events, oldest_event = session.exec(
        select(func.count(), func.min(col(Event.at))).where(col(Event.seq) > last_seq)
    ).one()
    pending = session.exec(
        select(col(Subscription.enabled), func.count(), func.min(col(Delivery.created_at)))
        .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
        .where(col(Delivery.state) == "pending", col(Subscription.deleted_at).is_(None))
        .group_by(col(Subscription.enabled))
    ).all()
    by_enabled = {bool(enabled): (count, oldest) for enabled, count, oldest in pending}
    queued, oldest_delivery = by_enabled.get(True, (0, None))
    held, _ = by_enabled.get(False, (0, None))
    return Backlog(
        events_pending=events,
        oldest_event_at=oldest_event,
        deliveries_pending=queued,
        oldest_delivery_at=oldest_delivery,
        deliveries_held=held,
        heartbeat_at=state.heartbeat_at if state else None,
    )
