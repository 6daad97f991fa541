"""Domain errors: each carries its HTTP status; api/errors.py renders them as problem+json."""

from collections.abc import Iterable, Mapping
from typing import Any


class RilonError(Exception):
    status = 500
    slug = "internal"
    title = "Internal error"
    outcome: str | None = None  # for the audit trail, where the status alone does not tell

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class BadRequest(RilonError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(RilonError):
    status, slug, title = 401, "unauthorized", "Not authenticated"

    def __init__(self, detail: str | None = None, *, error: str = "invalid_token") -> None:
        super().__init__(
            detail,
            headers={"WWW-Authenticate": f'Bearer error="{error}"'},
            extra={"error": error},
        )


class Forbidden(RilonError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(RilonError):
    status, slug, title = 404, "not-found", "Not found"


class Hidden(NotFound):
    """A record exists but the caller may not see it: answered exactly like a missing one."""

    outcome = "denied"


class Conflict(RilonError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(RilonError):
    """A record its caller could read was purged at the end of its retention period."""

    status, slug, title = 410, "gone", "Purged"


class PreconditionFailed(RilonError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(RilonError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class Unprocessable(RilonError):
    status, slug, title = 422, "validation", "Invalid request"

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class TooManyRequests(RilonError):
    status, slug, title = 429, "rate-limited", "Too many requests"
    outcome = "denied"  # a refusal, like a 401 or 403, not a failure of ours


class ServiceUnavailable(RilonError):
    status, slug, title = 503, "unavailable", "Service unavailable"


RETRY_AFTER_SECONDS = 5  # what a 503 asks callers to wait: a database outage's usual scale


class DatabaseUnavailable(ServiceUnavailable):
    """The database refused, timed out, is locked, read-only or full: nothing was written."""

    slug, title = "database-unavailable", "Database unavailable"

    def __init__(self, detail: str = "the database is not available; nothing was done") -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def field_errors(errors: Iterable[Mapping[str, Any]], prefix: str = "") -> list[dict[str, str]]:
    """Pydantic's error list as `{field, message}` pairs, fields dotted (`handling.tlp`)."""
    found = []
    for error in errors:
        parts = [str(part) for part in error.get("loc", ())]
        if parts and parts[0] == "body":
            parts = parts[1:]
        field = ".".join([prefix, *parts] if prefix else parts) or "body"
        found.append({"field": field, "message": str(error.get("msg", "invalid"))})
    return found
