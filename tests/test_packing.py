"""A list page read from SQLite as one value (services/records/packing.py) is the page the
rows would have given, field for field, on both databases."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from auth.policy import readable
from auth.principal import Principal
from core import clock
from models.enums import Role
from models.records import Record
from services.records import packing, reading
from services.records.kinds import ALERTS
from services.records.reading import RecordFilter
from tests.support import Network, alert_body, handling


async def test_a_page_packed_is_the_page_as_rows(network: Network) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    bodies = [
        alert_body(handling=handling("network")),
        alert_body(expires_at="2020-01-01T00:00:00Z"),  # an expiry, past: rendered expired
        alert_body(headline="Boat \\u001e sighted | \u00fcberf\u00fcllt", severity="extreme"),
        alert_body(observed_at=None),  # no position time
    ]
    for body in bodies:
        answer = await network.http.post("/v1/alerts", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
    caller = network.principal(Role.DUTY_OFFICER, "BD-CG", "BD")
    wanted = RecordFilter(limit=3)
    packed, plain = _packed_and_plain(network, caller, wanted)
    assert len(plain) == 4  # the page and one more, to know there is more
    assert packed == [tuple(row) for row in plain]
    expiries, positions = [row[3] for row in packed], [row[6] for row in packed]
    assert None in expiries
    assert any(isinstance(at, datetime) for at in expiries)
    assert None in positions
    assert all(at is None or at.tzinfo is not None for at in positions)
    listing = network.db.run_read(reading.list_records, caller, ALERTS, wanted)
    assert len(listing.docs) == 3
    assert listing.next_cursor is not None


async def test_a_separator_inside_a_value_falls_back_to_rows(network: Network) -> None:
    """Stored text never holds the separators: JSON escapes them. If a row did (written
    around the service), the page is read as rows, and still right."""
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    for _ in range(2):
        answer = await network.http.post("/v1/alerts", json=alert_body(), headers=headers)
        assert answer.status_code == 201, answer.text
    hostile = answer.json()["id"]
    network.db.run_write(
        lambda session: session.execute(
            sa.update(Record)
            .where(col(Record.id) == hostile)
            .values(doc=sa.literal("{\x1f\x1e") + sa.func.substr(col(Record.doc), 2))
        )
    )
    caller = network.principal(Role.DUTY_OFFICER, "BD-CG", "BD")
    wanted = RecordFilter(limit=5)
    packed, plain = _packed_and_plain(network, caller, wanted)
    assert packed == [tuple(row) for row in plain]
    assert packed[0][1].startswith("{\x1f\x1e")


def _packed_and_plain(
    network: Network, caller: Principal, wanted: RecordFilter
) -> tuple[list[Any], list[Any]]:
    """The caller's list page read packed (`page_rows`), and read as plain rows."""

    def both(session: Session) -> tuple[list[Any], list[Any]]:
        query = reading._list_query("alert", readable(caller), reading._shape(wanted))
        values = reading._values(wanted, clock.utcnow())
        connection = session.connection()
        plain = list(connection.execute(query, values).all())
        return packing.page_rows(connection, query, values), plain

    return network.db.run_read(both)
