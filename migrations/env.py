"""Alembic environment: the URL comes from the caller's config or from RILON_DATABASE_URL."""

from collections import Counter

from alembic import context
from sqlalchemy import Connection, text

import models  # noqa: F401  (registers every table on the metadata)
from core.db import is_sqlite, make_engine, normalize_url
from core.migrations import BrokenReferences
from core.settings import get_settings
from models.base import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or normalize_url(get_settings().database_url)


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(url, timeout=30)  # a migration may wait out a running writer
    try:
        with engine.connect() as connection:
            if not is_sqlite(url):  # several replicas may start at once: one migrates at a time
                connection.execute(text("SELECT pg_advisory_lock(7351001)"))
                connection.commit()
            else:
                # A batch migration copies a table, drops the old one and renames the copy; with
                # foreign keys enforced the drop fails as soon as another table's rows point at
                # it (every downgrade that drops a record column did). Off for this connection,
                # and outside any transaction: SQLite ignores the pragma inside one.
                driver = connection.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA foreign_keys=OFF")
            try:
                context.configure(
                    connection=connection,
                    target_metadata=metadata,
                    render_as_batch=is_sqlite(url),
                    compare_type=True,
                )
                with context.begin_transaction():
                    before = context.get_context().get_current_heads()
                    dangling = _dangling(connection) if is_sqlite(url) else Counter()
                    context.run_migrations()
                    migrated = context.get_context().get_current_heads() != before
                    if is_sqlite(url) and migrated:  # what they did must still hold together
                        _check_references(connection, dangling)
            finally:  # a migration that fails must not keep the lock from the next attempt
                if not is_sqlite(url):
                    connection.rollback()
                    connection.execute(text("SELECT pg_advisory_unlock(7351001)"))
                    connection.commit()
    finally:
        engine.dispose()  # the lock is the session's: no pooled connection may keep it


def _dangling(connection: Connection) -> Counter[tuple[str, str]]:
    """Rows pointing at a missing row, by (table, the table it points at)."""
    found = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    return Counter((table, parent) for table, _rowid, parent, _key in found)


def _check_references(connection: Connection, before: Counter[tuple[str, str]]) -> None:
    """Inside the migrations' transaction, so a broken one is rolled back, not kept; and only
    what the migrations added, so rows already dangling never stop an upgrade."""
    added = _dangling(connection) - before
    if added:
        (table, parent), count = next(iter(added.items()))
        raise BrokenReferences(
            f"a migration left {count} {table} row(s) pointing at missing {parent} rows; "
            "it was rolled back, nothing was migrated"
        )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
