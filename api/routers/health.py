"""Liveness and readiness probes."""

from fastapi import APIRouter

from api.deps import RuntimeDep
from core.clock import utcnow
from delivery import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    """The process is up. For load balancers; no authentication, not audited."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and migrated to head")
async def readyz(runtime: RuntimeDep) -> dict[str, str]:
    """Ready for traffic: database reachable, schema at the expected migration,
    and the dispatcher beating when this process runs one."""
    return await runtime.db.read(
        readiness.check, runs_dispatcher=runtime.settings.dispatcher, now=utcnow()
    )
