"""Per-request context (request id, caller, what was touched), set by the outer middleware."""

from collections.abc import MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from auth.passwords import looks_like_secret
from auth.principal import Claims, Principal
from core.logs import bind_request_id


@dataclass
class RequestContext:
    request_id: str
    ip: str | None
    scope: MutableMapping[str, Any] = field(default_factory=dict)
    principal: Principal | None = None
    actor: tuple[str, str, str] | None = None  # client, agency, country before a token exists
    object_type: str | None = None
    object_id: str | None = None
    object_countries: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None  # "denied" where a 404 hides a record the caller may not see
    audited: bool = False  # the audit row rode in the request's own write transaction
    # The caller's standing (client active, token not revoked, agency unchanged) not checked
    # yet: a write checks it in its own transaction, anything else with its audit row, before
    # the answer goes out (api/auditing.py). Only where `gated`, which AuditMiddleware sets.
    unchecked: Claims | None = None
    gated: bool = False


_current: ContextVar[RequestContext | None] = ContextVar("rilon_request", default=None)


def current_context() -> RequestContext | None:
    return _current.get()


def set_context(context: RequestContext) -> None:
    _current.set(context)
    bind_request_id(context.request_id)  # log lines of this request carry its id


def note_access(object_type: str, ids: list[str], countries: list[str], **detail: Any) -> None:
    """Record which records a list answer disclosed, and each one's country (`countries`
    runs beside `ids`; empty where the ids are not of records): the row is filed under
    those countries, and each country's auditors are shown only what concerns them."""
    context = current_context()
    if context is not None:
        context.object_type = object_type
        context.object_countries = sorted(set(countries))
        context.detail = {"ids": ids, **detail}
        if countries:
            context.detail["id_countries"] = countries


def note_detail(**detail: Any) -> None:
    """What the audit row of a change keeps beside who and what (a redaction's reason)."""
    context = current_context()
    if context is not None:
        context.detail = detail


def note_token_request(client_id: str, scope: str | None) -> None:
    """A token request names a client before it is proven: kept as detail, not as actor. A
    secret typed where the id goes (the two swapped) is not kept: the trail is permanent and
    platform admins read it."""
    if looks_like_secret(client_id):
        client_id = "(a client secret, not recorded)"
    context = current_context()
    if context is not None:
        context.object_type, context.object_id = "clients", client_id[:64]
        context.detail = {"client_id": client_id[:64], "scope": (scope or "")[:300]}


def note_actor(client_id: str, agency: str, country: str) -> None:
    context = current_context()
    if context is not None:
        context.actor = (client_id, agency, country)
