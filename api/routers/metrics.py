"""Prometheus metrics, for the operators' scraper."""

import anyio.to_thread
from fastapi import APIRouter, Response

from api.deps import RuntimeDep
from core.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, latencies, deliveries, outbox lag",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    """Counters and gauges in the Prometheus text format. No authentication and not audited,
    like the probes: it names route templates, status codes and queue lengths, never a
    record, an agency, a client or a token."""
    body = await anyio.to_thread.run_sync(runtime.metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE)
