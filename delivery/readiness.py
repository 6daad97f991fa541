"""Whether a process is ready for traffic: the database answers, its schema is the one the
code expects, and the dispatcher beats where this process runs one."""

from datetime import datetime, timedelta

from sqlmodel import Session

from core.errors import ServiceUnavailable
from core.migrations import current_revision, head_revision
from delivery.expansion import heartbeat

HEARTBEAT_STALE = timedelta(seconds=30)


def check(session: Session, *, runs_dispatcher: bool, now: datetime) -> dict[str, str]:
    """The readiness answer, or ServiceUnavailable saying what is not ready."""
    current, head = current_revision(session.connection()), head_revision()
    if current != head:
        raise ServiceUnavailable(f"database at migration {current}, code expects {head}")
    beat = heartbeat(session)
    fresh = beat is not None and now - beat < HEARTBEAT_STALE
    if runs_dispatcher and beat is not None and not fresh:
        raise ServiceUnavailable(f"the dispatcher in this process last beat at {beat}")
    dispatcher = "ok" if fresh else ("starting" if beat is None else "stale")
    return {"status": "ready", "database": "ok", "migration": head or "", "dispatcher": dispatcher}
