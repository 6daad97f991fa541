"""Every /v1 request leaves one audit row, written before its answer goes out.

A successful write carries its row in its own transaction (`audited_write`); everything else
(reads, denials, errors) gets its row from `AuditMiddleware` as the response starts. If the row
cannot be written, the caller gets 503 instead of the answer.
"""

import logging
from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import RequestContext, current_context
from api.deps import Runtime
from api.middleware import send_problem
from api.observability import route_template
from auth.tokens import decode_token
from core.errors import RETRY_AFTER_SECONDS, RilonError
from services import audit
from services.records import Saved

T = TypeVar("T")
AUDITED_PREFIX = "/v1/"
log = logging.getLogger(__name__)


def outcome_of(status: int, context: RequestContext) -> str:
    if status < 400:
        return "success"
    if status in (401, 403) or context.outcome == "denied":
        return "denied"
    return "error"


def entry_for(context: RequestContext, status: int) -> audit.Entry:
    scope = context.scope
    template = route_template(scope, unmatched="(no route)")
    segments = scope.get("path", "").split("/")
    params = scope.get("path_params") or {}
    actor = (
        (context.principal.client_id, context.principal.agency, context.principal.country)
        if context.principal
        else context.actor or (None, None, None)
    )
    return audit.Entry(
        action=f"{scope.get('method', '?')} {template}",
        outcome=outcome_of(status, context),
        status_code=status,
        actor_client=actor[0],
        actor_agency=actor[1],
        actor_country=actor[2],
        object_type=context.object_type or (segments[2] if len(segments) > 2 else None),
        object_id=context.object_id
        or (str(next(iter(params.values()))) if len(params) == 1 else None),
        object_countries=context.object_countries,
        ip=context.ip,
        request_id=context.request_id,
        detail=context.detail,
    )


async def audited_write(runtime: Runtime, unit: Callable[[Session], T], status: int = 200) -> T:
    """Run a write unit with its audit row in the same transaction."""
    context = current_context()

    def with_audit(session: Session) -> T:
        result = unit(session)
        if context is not None:
            if isinstance(result, Saved):
                context.object_id, context.object_countries = result.id, [result.country]
            audit.append(session, entry_for(context, status))
        return result

    result = await runtime.db.write(with_audit)
    if context is not None:
        context.audited = True
    return result


def note_access(object_type: str, ids: list[str], countries: list[str], **detail: Any) -> None:
    """Record which records a list answer disclosed, and whose."""
    context = current_context()
    if context is not None:
        context.object_type = object_type
        context.object_countries = countries
        context.detail = {"ids": ids, **detail}


def note_token_request(client_id: str, scope: str | None) -> None:
    """A token request names a client before it is proven: kept as detail, not as actor."""
    context = current_context()
    if context is not None:
        context.object_type, context.object_id = "clients", client_id[:64]
        context.detail = {"client_id": client_id[:64], "scope": (scope or "")[:300]}


def note_actor(client_id: str, agency: str, country: str) -> None:
    context = current_context()
    if context is not None:
        context.actor = (client_id, agency, country)


class AuditMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = current_context()
        if (
            scope["type"] != "http"
            or context is None
            or not scope["path"].startswith(AUDITED_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        context.scope = scope
        replaced = False
        started = False

        async def audited_send(message: Message) -> None:
            nonlocal replaced, started
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
                if not await self._record(context, message["status"]):
                    replaced = True
                    await send_problem(
                        send,
                        scope,
                        503,
                        "audit-unavailable",
                        "Audit trail unavailable",
                        "the audit trail cannot be written; nothing was done",
                        {"Retry-After": str(RETRY_AFTER_SECONDS)},
                    )
                    return
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception:
            if not started:
                await self._record(context, 500)
            raise

    async def _record(self, context: RequestContext, status: int) -> bool:
        if context.audited:
            return True
        if context.principal is None and context.actor is None:
            context.actor = self._bearer_of(context.scope)
        entry = entry_for(context, status)
        try:
            await self.runtime.db.write_item(audit.append_many, entry)
        except Exception:
            log.error("audit row for request %s could not be written", context.request_id)
            return False
        context.audited = True
        return True

    def _bearer_of(self, scope: MutableMapping[str, Any]) -> tuple[str, str, str] | None:
        """Who a request that never reached authentication came from, if its token is genuine."""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                kind, _, token = value.decode("latin-1").partition(" ")
                if kind.lower() == "bearer":
                    try:
                        claims = decode_token(token.strip(), self.runtime.keys)
                    except RilonError:
                        return None
                    return claims.client_id, claims.agency, claims.country
        return None
