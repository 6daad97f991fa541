"""Per-request context (request id, caller, client address), set by the outer middleware."""

from contextvars import ContextVar
from dataclasses import dataclass, field

from auth.principal import Principal


@dataclass
class RequestContext:
    request_id: str
    ip: str | None
    principal: Principal | None = None
    notes: dict[str, str] = field(default_factory=dict)


_current: ContextVar[RequestContext | None] = ContextVar("rilon_request", default=None)


def current_context() -> RequestContext | None:
    return _current.get()


def set_context(context: RequestContext) -> None:
    _current.set(context)
