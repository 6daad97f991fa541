"""Every /v1 request leaves one audit row, written before its answer goes out.

A successful write carries its row in its own transaction (`audited_write`); everything else
(reads, denials, errors) gets its row from `AuditMiddleware` as the response starts. If the row
cannot be written, the caller gets 503 instead of the answer; if the database refuses just that
row (its neighbours' are written all the same), a content-free stand-in row is written and the
caller gets 400 instead of the answer. The caller's standing (token not revoked, client active)
rides along: checked in the write's transaction or with the row, and a caller no longer in good
standing gets 401 instead of the answer (docs/DECISIONS.md).
"""

import logging
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit_rows import Unauditable, entry_for, route_status, unauditable
from api.context import RequestContext, current_context
from api.deps import Runtime
from api.middleware import send_problem
from auth.principal import Claims
from auth.tokens import decode_token
from core.db import UnitOf
from core.errors import RETRY_AFTER_SECONDS, RilonError, Unauthorized
from models.registry import AgencyRead, ClientCreated
from services.audit import trail
from services.records.publishing import Saved
from services.registry.tokens import load_principal, why_refused

T = TypeVar("T")
P = ParamSpec("P")
AUDITED_PREFIX = "/v1/"
UNAVAILABLE = "audit trail unavailable"
UNAUDITABLE = "request cannot be audited"
log = logging.getLogger(__name__)


async def audited_write(
    runtime: Runtime, unit: UnitOf[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """The transaction of a write request: `unit(session, *args, **kwargs)` with the request's
    audit row (the status its route answers with), after the caller's standing, if not yet
    checked, is checked in that same transaction. Nothing of it is kept if any part fails."""
    context = current_context()
    unchecked = context.unchecked if context is not None else None

    def with_audit(session: Session) -> T:
        if unchecked is not None:
            load_principal(session, unchecked)  # a 401 here writes nothing
        result = unit(session, *args, **kwargs)
        if context is not None:
            _note_made(context, result)
            entry = entry_for(context, route_status(context.scope))
            trail.append(session, trail.flagged(session, entry))
        return result

    result = await runtime.db.write(with_audit)
    if context is not None:
        context.audited = True
        context.unchecked = None
    return result


def _note_made(context: RequestContext, result: object) -> None:
    """What a write made, in its audit row: a record by id (filed under its country); a client
    by id and roles beside its agency's code (never its secret); an agency by code."""
    if isinstance(result, Saved):
        context.object_id, context.object_countries = result.id, [result.country]
    elif isinstance(result, ClientCreated):
        roles = [role.value for role in result.roles]
        context.detail = {**context.detail, "client_id": result.client_id, "roles": roles}
    elif isinstance(result, AgencyRead) and context.object_id is None:
        context.object_id = result.code


async def ensure_standing(runtime: Runtime) -> None:
    """Check the caller's standing now, if it is not yet checked: before anything but the
    answer leaves the process (a DNS lookup of a webhook URL, say)."""
    context = current_context()
    if context is not None and context.unchecked is not None:
        await runtime.db.read(load_principal, context.unchecked)
        context.unchecked = None


def append_checked(session: Session, items: list[tuple[trail.Entry, Claims | None]]) -> list[str]:
    """A writer group: the audit rows of answers about to go out, each after its caller's
    standing is checked where it was not yet (once per token in the transaction: see
    `load_principal`). Per item "" if the answer may go out, else why not (the caller gets a
    401 instead, and the row records that)."""
    verdicts: list[str] = []
    entries: list[trail.Entry] = []
    for entry, claims in items:
        verdict = "" if claims is None else why_refused(session, claims)
        if verdict:
            entry = replace(
                entry, status_code=401, outcome="denied", object_countries=[], detail={}
            )
        verdicts.append(verdict)
        entries.append(entry)
    trail.append_many(session, entries)
    return verdicts


async def _refuse(send: Send, scope: Scope, verdict: str) -> None:
    """The answer that goes out instead: 503 when the audit row could not be written, 400
    when only a stand-in row could be, 401 when the caller turned out to be no longer in good
    standing."""
    if verdict == UNAVAILABLE:
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
    refused: RilonError = (
        Unauditable("the request could not be recorded as sent; nothing was done")
        if verdict == UNAUDITABLE
        else Unauthorized(verdict)
    )
    await send_problem(
        send,
        scope,
        refused.status,
        refused.slug,
        refused.title,
        refused.detail,
        refused.headers,
        refused.extra,
    )


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
        context.gated = True  # authentication may leave the caller's standing to `_record`
        replaced = False
        started = False

        async def audited_send(message: Message) -> None:
            nonlocal replaced, started
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
                verdict = await self._record(context, message["status"])
                if verdict is not None:
                    replaced = True
                    await _refuse(send, scope, verdict)
                    return
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception:
            if not started:
                await self._record(context, 500)
            raise

    async def _record(self, context: RequestContext, status: int) -> str | None:
        """Write the request's audit row; None if the answer may go out, else why not:
        UNAVAILABLE, UNAUDITABLE (a stand-in row was written instead), or the reason the
        caller is no longer in good standing."""
        if context.audited:
            return None
        if context.principal is None and context.actor is None:
            context.actor = self._bearer_of(context.scope)
        item = (entry_for(context, status), context.unchecked)
        try:
            verdict: str = await self.runtime.db.write_item(append_checked, item)
        except trail.RowRefused:
            log.error("audit row for request %s refused; writing a stand-in", context.request_id)
            verdict = await self._record_unauditable(context)
            if verdict == UNAVAILABLE:
                return verdict
        except Exception:
            log.error("audit row for request %s could not be written", context.request_id)
            return UNAVAILABLE
        context.audited = True
        context.unchecked = None
        return verdict or None

    async def _record_unauditable(self, context: RequestContext) -> str:
        """Leave a content-free row for a request whose own row was refused (its neighbours'
        rows were written all the same); UNAUDITABLE, or UNAVAILABLE if even that fails."""
        try:
            await self.runtime.db.write_item(append_checked, (unauditable(context), None))
        except Exception:
            log.error("stand-in audit row for request %s failed too", context.request_id)
            return UNAVAILABLE
        return UNAUDITABLE

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
