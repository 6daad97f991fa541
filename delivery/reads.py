"""What subscribers see of their deliveries: each with every attempt."""

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from auth.principal import Principal
from models.subscriptions import Delivery, DeliveryAttempt
from services.webhooks.subscriptions import own


def delivery_json(session: Session, delivery: Delivery) -> dict[str, Any]:
    return deliveries_json(session, [delivery])[0]


def deliveries_json(session: Session, deliveries: Sequence[Delivery]) -> list[dict[str, Any]]:
    """The deliveries with their attempts, read in one statement for the lot."""
    attempts: dict[str, list[DeliveryAttempt]] = {delivery.id: [] for delivery in deliveries}
    if attempts:
        found = session.exec(
            select(DeliveryAttempt)
            .where(col(DeliveryAttempt.delivery_id).in_(list(attempts)))
            .order_by(col(DeliveryAttempt.delivery_id), col(DeliveryAttempt.number))
        )
        for attempt in found:
            attempts[attempt.delivery_id].append(attempt)
    return [_json(delivery, attempts[delivery.id]) for delivery in deliveries]


def _json(delivery: Delivery, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "subscription_id": delivery.subscription_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "state": delivery.state,
        "attempts": [
            {
                "number": a.number,
                "at": a.at,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
                "response_excerpt": a.response_excerpt,
            }
            for a in attempts
        ],
        "next_attempt_at": delivery.next_attempt_at if delivery.state == "pending" else None,
        "delivered_at": delivery.delivered_at,
    }


def list_deliveries(
    session: Session, principal: Principal, subscription_id: str, state: str | None
) -> list[dict[str, Any]]:
    row = own(session, principal, subscription_id)
    query = select(Delivery).where(col(Delivery.subscription_id) == row.id)
    if state is not None:
        query = query.where(col(Delivery.state) == state)
    found = session.exec(query.order_by(col(Delivery.created_at).desc()).limit(200)).all()
    return deliveries_json(session, found)
