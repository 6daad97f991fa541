"""What a request's audit row says: built from the matched route and the request context.

Nothing here is trusted to fit: `services/trail.py` cleans and clamps every field to its
column (`services/audit/fields.py`) before the row is hashed.
"""

from collections.abc import MutableMapping
from typing import Any

from api.context import RequestContext
from api.observability import route_template
from core.errors import BadRequest
from services.audit import trail

UNAUDITABLE_ACTION = "unauditable request"
UNMATCHED_PATH_CHARS = 200


class Unauditable(BadRequest):
    """The request's audit row was refused; a content-free row stands in, and nothing of
    the answer goes out."""

    slug, title = "unauditable-request", "Request cannot be audited"


def outcome_of(status: int, context: RequestContext) -> str:
    if status < 400:
        return "success"
    if status in (401, 403) or context.outcome == "denied":
        return "denied"
    return "error"


def route_status(scope: MutableMapping[str, Any]) -> int:
    """The status the matched route answers with when all goes well (201 for a create)."""
    return getattr(scope.get("route"), "status_code", None) or 200


def entry_for(context: RequestContext, status: int) -> trail.Entry:
    """The request's row: its route, not its raw path, names what was done to what (the
    path of a request that matched no route is kept in `detail`, cut short)."""
    scope = context.scope
    template = route_template(scope, unmatched="")
    params = scope.get("path_params") or {}
    actor = (
        (context.principal.client_id, context.principal.agency, context.principal.country)
        if context.principal
        else context.actor or (None, None, None)
    )
    detail = context.detail
    if not template:
        detail = {"path": scope.get("path", "")[:UNMATCHED_PATH_CHARS], **detail}
    segments = template.split("/")
    return trail.Entry(
        action=f"{scope.get('method', '?')} {template or '(no route)'}",
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
        detail=detail,
    )


def unauditable(context: RequestContext) -> trail.Entry:
    """What stands in for a row the database refused: who and which request, nothing from
    its path or body."""
    actor = context.principal
    return trail.Entry(
        action=UNAUDITABLE_ACTION,
        outcome="error",
        status_code=Unauditable.status,
        actor_client=actor.client_id if actor else None,
        actor_agency=actor.agency if actor else None,
        actor_country=actor.country if actor else None,
        ip=context.ip,
        request_id=context.request_id,
    )
