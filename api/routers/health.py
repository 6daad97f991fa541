"""Liveness and readiness probes."""

from datetime import timedelta

from fastapi import APIRouter

from api.deps import RuntimeDep
from core.clock import utcnow
from core.errors import ServiceUnavailable
from core.migrations import current_revision, head_revision
from services import expansion

router = APIRouter(tags=["operations"])
HEARTBEAT_STALE = timedelta(seconds=30)


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    """The process is up. For load balancers; no authentication, not audited."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and migrated to head")
async def readyz(runtime: RuntimeDep) -> dict[str, str]:
    """Ready for traffic: database reachable, schema at the expected migration,
    and the dispatcher beating when this process runs one."""
    current = await runtime.db.read(lambda session: current_revision(session.connection()))
    head = head_revision()
    if current != head:
        raise ServiceUnavailable(f"database at migration {current}, code expects {head}")
    beat = await runtime.db.read(expansion.heartbeat)
    fresh = beat is not None and utcnow() - beat < HEARTBEAT_STALE
    if runtime.settings.dispatcher and beat is not None and not fresh:
        raise ServiceUnavailable(f"the dispatcher in this process last beat at {beat}")
    dispatcher = "ok" if fresh else ("starting" if beat is None else "stale")
    return {"status": "ready", "database": "ok", "migration": head or "", "dispatcher": dispatcher}
