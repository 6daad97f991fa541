"""Work queued straight into the database, as a busy network leaves it: deliveries due now
for one subscription (bench/backlog.py), or a long history of events for replays to walk."""

import json
import uuid
from typing import Any

from sqlalchemy import create_engine

from bench.backlog import add_deliveries
from core.clock import utcnow
from core.db import normalize_url
from models.tables import EVENT

__all__ = ["add_deliveries", "add_events", "event_rows"]


def event_rows(
    count: int, sender: str = "BD-CG", distribution: str = "network"
) -> list[dict[str, Any]]:
    """`count` alert events of `sender`, each about a record of its own."""
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
                "distribution": distribution,
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


def add_events(database_url: str, count: int, distribution: str = "network") -> None:
    """Commit `count` events at once; the expander is moved past them (they are history)."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(EVENT.insert(), event_rows(count, distribution=distribution))
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
