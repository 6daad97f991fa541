"""Where a string is stored: the bytes of a SQLite database's files, or a PostgreSQL dump."""

import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


def places_holding(database_url: str, marker: str) -> list[str]:
    """The files (SQLite: the database, its write-ahead log and journal) or the dumped rows
    (PostgreSQL, `pg_dump --data-only`) that contain `marker`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        files = [path, *(path.with_name(path.name + end) for end in ("-wal", "-journal"))]
        return [f.name for f in files if f.exists() and marker.encode() in f.read_bytes()]
    libpq = f"postgresql://{url.username}@{url.host}:{url.port or 5432}/{url.database}"
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", libpq],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [line[:300] for line in dump.splitlines() if marker in line]
