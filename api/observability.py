"""Pure ASGI middleware: count and time every request, and write its access log line."""

import logging
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import current_context
from core.metrics import UNMATCHED, Metrics

access = logging.getLogger("rilon.access")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # polled every few seconds


def route_template(scope: MutableMapping[str, Any], unmatched: str = UNMATCHED) -> str:
    """The matched route's path (`/v1/alerts/{record_id}`), never the raw path: raw paths hold
    ids and whatever a scanner tries, and each would become a new time series."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else unmatched


class ObservabilityMiddleware:
    """Sits inside RequestContextMiddleware, so the request id and the caller are known."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the caller gets if the app raises before answering

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe_request(scope["method"], route, status, seconds)
            if self.access_log:
                self._log(scope, route, status, seconds)

    def _log(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        context = current_context()
        client_id = None
        if context is not None:
            if context.principal is not None:
                client_id = context.principal.client_id
            elif context.actor is not None:  # a token request, once its secret was verified
                client_id = context.actor[0]
        level = logging.DEBUG if scope["path"] in QUIET_PATHS else logging.INFO
        method = scope["method"]
        # Only these fields: never headers (Authorization), bodies or the query string.
        access.log(
            level,
            "%s %s %d %.1f ms",
            method,
            route,
            status,
            seconds * 1000,
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "client_id": client_id,
                "client_ip": context.ip if context else None,
            },
        )
