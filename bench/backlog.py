"""A backlog written straight into the database, as a network that fell behind leaves it:
deliveries due now for one subscription (B5's stuck partners; tests/backlog.py)."""

import json
import uuid
from typing import Any

from sqlalchemy import create_engine

from core.clock import utcnow
from core.db import normalize_url
from delivery import pacing
from models.tables import DELIVERY


def delivery_rows(subscription_id: str, count: int) -> list[dict[str, Any]]:
    """`count` pings due now, as a burst of events or a replay leaves them."""
    now = utcnow()
    rows = []
    for _ in range(count):
        event_id = str(uuid.uuid4())
        body = {"id": event_id, "type": "ping", "timestamp": now.isoformat(), "cursor": None}
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "subscription_id": subscription_id,
                "event_id": event_id,
                "event_type": "ping",
                "payload": json.dumps({**body, "data": {"subscription_id": subscription_id}}),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    return rows


def add_deliveries(database_url: str, subscription_id: str, count: int) -> None:
    """Queue `count` deliveries for one subscription, as the service queues work."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(DELIVERY.insert(), delivery_rows(subscription_id, count))
            pacing.wake(connection, [subscription_id], utcnow())
    finally:
        engine.dispose()
