"""What subscribers see of their deliveries: each with every attempt."""

from typing import Any

from sqlmodel import Session, col, select

from models.subscriptions import Delivery, DeliveryAttempt


def delivery_json(session: Session, delivery: Delivery) -> dict[str, Any]:
    attempts = session.exec(
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id) == delivery.id)
        .order_by(col(DeliveryAttempt.number))
    ).all()
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
