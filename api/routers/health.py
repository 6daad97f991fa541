"""Liveness and readiness probes."""

from fastapi import APIRouter

from api.deps import RuntimeDep
from core.errors import ServiceUnavailable
from core.migrations import current_revision, head_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and migrated to head")
async def readyz(runtime: RuntimeDep) -> dict[str, str]:
    current = await runtime.db.read(lambda session: current_revision(session.connection()))
    head = head_revision()
    if current != head:
        raise ServiceUnavailable(f"database at migration {current}, code expects {head}")
    return {"status": "ready", "database": "ok", "migration": head or ""}
