"""A selective `q` is found through the trigram index on PostgreSQL, not by a scan."""

from typing import Any

from sqlalchemy import event, text
from sqlmodel import Session

from auth.principal import Principal
from core.db import is_sqlite
from models.enums import Role
from models.tables import RECORD
from services.records.kinds import ALERTS
from services.records.reading import Listing, RecordFilter, list_records
from tests.support import Network, alert_body

FILLER = 20_000
# every filler row copies the first record, with other text: the sought words are in none
CLONE = """
    INSERT INTO record (id, search_text, {columns})
    SELECT {uuid}, 'filler alert ' || n || ' teknaf trawler bay of bengal', {columns}
    FROM {numbers}, (SELECT * FROM record LIMIT 1) AS first
"""
SQLITE_NUMBERS = (
    "(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) "
    "SELECT n FROM g)"
)


def _clone(session: Session, sqlite: bool) -> None:
    columns = [name for name in RECORD.c.keys() if name not in ("seq", "id", "search_text")]
    numbers = SQLITE_NUMBERS if sqlite else "generate_series(1, :count) AS n"
    uuid = "lower(hex(randomblob(16)))" if sqlite else "gen_random_uuid()::text"
    statement = CLONE.format(columns=", ".join(columns), uuid=uuid, numbers=numbers)
    session.connection().execute(text(statement), {"count": FILLER})
    session.connection().execute(text("ANALYZE"))


def _reader(network: Network) -> Principal:
    return network.principal(Role.VIEWER, "MY-MMEA", "MY")


async def test_a_selective_q_uses_the_search_index(network: Network, database_url: str) -> None:
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(headline="Landing at Langkawi pier_9", place_name="Pantai Cenang")
    sought = await network.http.post("/v1/alerts", json=body, headers=duty)
    sqlite = is_sqlite(database_url)
    network.db.run_write(lambda session: _clone(session, sqlite))
    reader = _reader(network)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    def search(session: Session) -> Listing:
        return list_records(session, reader, ALERTS, RecordFilter(q="LANGKAWI Pier_9"))

    event.listen(network.db.engine, "before_cursor_execute", capture)
    listing = network.db.run_read(search)
    event.remove(network.db.engine, "before_cursor_execute", capture)
    assert listing.ids == [sought.json()["id"]]
    sql, params = next((s, p) for s, p in captured if "FROM record" in s)
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (COSTS OFF) "
    with network.db.engine.connect() as connection:
        plan = " / ".join(str(row[-1]) for row in connection.exec_driver_sql(explain + sql, params))
    # SQLite walks the list index newest first, so a page costs at most a scan of the table;
    # PostgreSQL looks the words up in the trigram index
    assert ("ix_record_list" if sqlite else "ix_record_search") in plan, plan
