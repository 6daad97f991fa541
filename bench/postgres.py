"""B3's list statement on PostgreSQL: seeded in a scratch database, EXPLAINed, then dropped.

`--postgres URL` names a server the bench may create a database on (the URL's own database is
only connected to). The scratch database gets the schema and the demo network from `rilon
demo`, then the same records as B3 through the service layer, then ANALYZE; the statement
`list_records` sends is captured from the engine and run under `EXPLAIN (ANALYZE, BUFFERS)`.
PostgreSQL gets no index hint (the `INDEXED BY` is SQLite's): the question is whether its own
planner walks `ix_record_list` newest first.
"""

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import seed, servers
from core.db import normalize_url

INDEX = "ix_record_list"


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, dropped on the way out."""
    admin_url = make_url(normalize_url(server_url))
    name = f"rilon_bench_{secrets.token_hex(5)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def explain(server_url: str, sizes: Mapping[str, int], workdir: Path) -> list[str]:
    """The plan and timings of the list statement at each size; notes for B3's table."""
    workdir.mkdir(exist_ok=True)
    notes: list[str] = []
    with scratch_database(server_url) as url:
        env = {**servers.service_env(workdir), "RILON_DATABASE_URL": url}
        servers.seed_demo(workdir, env)
        seeded = 0
        for label, count in sizes.items():
            print(f"  PostgreSQL {label}: seeding ... ", end="", flush=True)
            seconds = seed.seed_alerts(url, count, start=seeded)
            seeded = count
            _analyze(url)
            report = seed.inspect_list_query(url)
            walks = any(INDEX in line and "Backward" in line for line in report.plan)
            print(f"{seconds:.0f} s; walks {INDEX} newest first: {'yes' if walks else 'NO'}")
            notes += [
                f"PostgreSQL {label}: plan: {' / '.join(line.strip() for line in report.plan)}",
                f"PostgreSQL {label}: walks {INDEX} newest first: {'yes' if walks else 'NO'}; "
                f"the statement alone {report.sql_ms:.2f} ms (psycopg), `list_records` "
                f"{report.service_ms:.2f} ms (one thread, no load)",
            ]
    return notes


def _analyze(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
