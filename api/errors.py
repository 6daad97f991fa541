"""RFC 9457 problem+json: the one shape of every error this API returns."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from api.context import current_context
from api.middleware import problem_body
from core.driver import translate
from core.errors import RilonError, Unprocessable, field_errors

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for these error statuses."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    context = current_context()
    body = problem_body(
        status,
        slug or HTTPStatus(status).phrase.lower().replace(" ", "-"),
        title or HTTPStatus(status).phrase,
        detail,
        request.url.path,
        {"request_id": context.request_id if context else None, **(extra or {})},
    )
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


async def _on_rilon_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RilonError)
    context = current_context()
    if context is not None and exc.outcome is not None:
        context.outcome = exc.outcome
    errors = exc.errors if isinstance(exc, Unprocessable) else None
    return problem_response(
        request,
        exc.status,
        exc.detail,
        slug=exc.slug,
        title=exc.title,
        errors=errors,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """A driver error that reached the edge untranslated: the same answer as a translated one."""
    translated = translate(exc)
    if isinstance(translated, RilonError):
        return await _on_rilon_error(request, translated)
    return await _on_unexpected(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(
        request, 422, detail, slug="validation", title="Invalid request", errors=errors
    )


def _unparsable(exc: HTTPException) -> str | None:
    """Why FastAPI's bare 400 "error parsing the body" could not parse it, when the body is
    simply invalid JSON: nested past Python's recursion limit, not UTF-8, or holding an integer
    longer than Python converts (4,300 digits)."""
    if exc.status_code != 400 or exc.__cause__ is None:
        return None
    if isinstance(exc.__cause__, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return "body is not UTF-8 JSON"
    if isinstance(exc.__cause__, ValueError) and "integer string conversion" in str(exc.__cause__):
        return "a number in the body has too many digits"
    return None


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    reason = _unparsable(exc)
    if reason is not None:  # invalid JSON like any other: 422 naming the body
        errors = [{"field": "body", "message": reason}]
        return problem_response(
            request,
            422,
            f"body: {reason}",
            slug="validation",
            title="Invalid request",
            errors=errors,
        )
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method of every route at this path, not just one's
        headers["Allow"] = ", ".join(sorted(_methods_at(request)))
    return problem_response(request, exc.status_code, detail, headers=headers)


def _methods_at(request: Request) -> set[str]:
    """The documented methods of the path, from the OpenAPI paths (compiled once)."""
    app = request.app
    table = getattr(app.state, "methods_by_path", None)
    if table is None:
        table = [
            (compile_path(path)[0], {method.upper() for method in operations})
            for path, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.methods_by_path = table
    found: set[str] = set()
    for pattern, methods in table:
        if pattern.match(request.url.path):
            found |= methods
    return found


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request, 500, "An internal error occurred; quote the request id to the operator."
    )


async def _on_escaped(request: Request, exc: Exception) -> JSONResponse:
    """An exception no other handler took. Starlette answers it from its outermost layer,
    outside the middleware that adds `X-Request-ID`, so the header is added here."""
    response = await _on_unexpected(request, exc)
    context = current_context()
    if context is not None:
        response.headers["X-Request-ID"] = context.request_id
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(RilonError, _on_rilon_error)
    app.add_exception_handler(SQLAlchemyError, _on_database_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_escaped)
