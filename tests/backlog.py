"""Work queued straight into the database, as a busy network leaves it: deliveries due now
for one subscription, or a long history of events for replays to walk."""

import json
import uuid
from typing import Any

from sqlalchemy import create_engine

from core.clock import utcnow
from core.db import normalize_url
from services import pacing
from services.dispatch import DELIVERY, EVENT


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


def event_rows(count: int, sender: str = "BD-CG") -> list[dict[str, Any]]:
    """`count` network-wide alert events of `sender`, each about a record of its own."""
    now = utcnow()
    rows = []
    for _ in range(count):
        record_id = str(uuid.uuid4())
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "type": "alert.created",
                "at": now,
                "record_id": record_id,
                "kind": "alert",
                "status": "actual",
                "sender_agency": sender,
                "sender_country": sender[:2],
                "distribution": "network",
                "tlp": "green",
                "recipient_countries": "",
                "recipient_agencies": "",
                "category": "vessel_at_sea",
                "severity_rank": 3,
                "lat": 10.0,
                "lon": 95.0,
                "data": json.dumps({"id": record_id, "kind": "alert", "headline": "history"}),
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


def add_events(database_url: str, count: int) -> None:
    """Commit `count` events at once; the expander is moved past them (they are history)."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(EVENT.insert(), event_rows(count))
            last = int(connection.exec_driver_sql("SELECT max(seq) FROM event").scalar_one())
            moved = connection.exec_driver_sql(
                f"UPDATE dispatcher_state SET last_seq = {last} WHERE name = 'expander'"
            )
            if moved.rowcount == 0:
                connection.exec_driver_sql(
                    f"INSERT INTO dispatcher_state (name, last_seq) VALUES ('expander', {last})"
                )
    finally:
        engine.dispose()
