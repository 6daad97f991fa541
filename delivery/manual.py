"""Deliveries an agency admin asks for: a test `ping`, and a delivery sent again. Each wakes
its subscription's turn at once, whatever its circuit says; neither is taken for a disabled
subscription, which sends nothing until it is enabled."""

from typing import Any

from sqlmodel import Session

from auth.principal import Principal
from core.clock import utcnow
from core.errors import Conflict, Hidden, NotFound
from core.ids import new_id
from core.jsontext import dumps
from delivery import pacing
from delivery.reads import delivery_json
from models.subscriptions import Delivery, Subscription
from services.records.events import event_json
from services.webhooks.subscriptions import own


def ping(session: Session, principal: Principal, subscription_id: str) -> dict[str, Any]:
    """Queue a `ping` event for this subscription alone."""
    row = own(session, principal, subscription_id)
    _sending(row)
    now = utcnow()
    event_id = new_id()
    payload = event_json(None, event_id, "ping", now, dumps({"subscription_id": row.id}))
    delivery = Delivery(
        id=new_id(),
        subscription_id=row.id,
        event_id=event_id,
        event_type="ping",
        payload=payload,
        state="pending",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    pacing.wake_now(session.connection(), row.id, now)
    return {"delivery_id": delivery.id, "event_id": event_id}


def redeliver(session: Session, principal: Principal, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again now, whatever became of it."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    subscription = session.get(Subscription, delivery.subscription_id)
    if subscription is None or subscription.agency != principal.agency:
        raise Hidden(f"no delivery {delivery_id}")  # never name the other agency's subscription
    if subscription.deleted_at is not None:  # its deliveries go with it
        raise NotFound(f"no delivery {delivery_id}: its subscription was deleted")
    _sending(subscription)
    delivery.state, delivery.next_attempt_at, delivery.lease_until = "pending", utcnow(), None
    session.add(delivery)
    session.flush()
    pacing.wake_now(session.connection(), subscription.id, delivery.next_attempt_at)
    return delivery_json(session, delivery)


def _sending(subscription: Subscription) -> None:
    """A ping or a redelivery to a disabled subscription would wait, unsent, until somebody
    enabled it: answered "pending", it looked sent. Say what to do instead."""
    if subscription.enabled:
        return
    why = f" ({subscription.disabled_reason})" if subscription.disabled_reason else ""
    raise Conflict(
        f"subscription {subscription.id} is disabled{why} and sends nothing: "
        f"POST /v1/subscriptions/{subscription.id}/enable, which also sends what is pending"
    )
