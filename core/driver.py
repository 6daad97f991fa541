"""What the database driver's failures mean to callers (an outage to retry later, a conflict,
or our own error), and a commit that never pools a connection whose COMMIT failed."""

import logging

from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from core.errors import Conflict, DatabaseUnavailable

log = logging.getLogger(__name__)

# The database is away, locked, read-only or full: the caller may retry later. Data and
# programming errors are ours, and stay errors rather than "try again".
DRIVER_OUTAGES = (OperationalError, InterfaceError, PoolTimeout, DisconnectionError)


def translate(exc: BaseException) -> BaseException:
    """Turn driver errors into the domain errors the API knows how to answer."""
    if isinstance(exc, IntegrityError):
        return Conflict("the request conflicts with existing data")
    if isinstance(exc, DRIVER_OUTAGES):
        orig = getattr(exc, "orig", None)
        if orig is not None:
            log.warning("database error: %s: %s", type(orig).__name__, str(orig)[:200])
        else:
            log.warning("database error: %s", type(exc).__name__)
        return DatabaseUnavailable()
    return exc


def commit_or_discard(session: Session) -> None:
    """Commit; if the COMMIT itself fails, close the connection instead of pooling it.

    SQLAlchemy hands a connection whose COMMIT raised back to the pool without a ROLLBACK, and
    a driver may keep the transaction open after a failed COMMIT (SQLite does after
    SQLITE_BUSY, and may after SQLITE_FULL or an I/O error). Pooled like that, it would fail
    every later BEGIN and, on SQLite, keep holding the write lock. Closing it rolls back.
    """
    connection = session.connection()
    try:
        session.commit()
    except BaseException:
        connection.invalidate()
        raise
