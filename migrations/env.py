"""Alembic environment: the URL comes from the caller's config or from RILON_DATABASE_URL."""

from alembic import context
from sqlalchemy import text

import models  # noqa: F401  (registers every table on the metadata)
from core.db import is_sqlite, make_engine, normalize_url
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
                    context.run_migrations()
                if is_sqlite(url):  # what the migrations did must still hold together
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    connection.rollback()
                    if broken is not None:
                        raise RuntimeError(f"a migration left a dangling reference: {broken}")
            finally:  # a migration that fails must not keep the lock from the next attempt
                if not is_sqlite(url):
                    connection.rollback()
                    connection.execute(text("SELECT pg_advisory_unlock(7351001)"))
                    connection.commit()
    finally:
        engine.dispose()  # the lock is the session's: no pooled connection may keep it


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
