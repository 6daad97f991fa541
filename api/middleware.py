"""Pure ASGI middleware: request ids and the request body cap."""

import json
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import RequestContext, current_context, set_context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Give every request an id (echoed in `X-Request-ID`) and a context for logs and audit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        client = scope.get("client")
        set_context(RequestContext(request_id=request_id, ip=client[0] if client else None))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuse bodies over the configured size with 413, without reading them into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (
            not (declared.isascii() and declared.isdigit()) or int(declared) > self.max_bytes
        ):
            await _refuse(scope, send, self.max_bytes)
            return
        seen = 0
        refused = False
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # the 413 has been sent; whatever the app says now goes nowhere
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes and not started:
                    await _refuse(scope, send, self.max_bytes)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, guarded_send)


PROBLEM_TYPE = "urn:rilon:problem:"


def problem_body(
    status: int, slug: str, title: str, detail: str, instance: str, extra: dict[str, Any] | None
) -> dict[str, Any]:
    """An RFC 9457 document, from an exception handler or straight from middleware."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **(extra or {}),
    }
    if "error" in body:  # OAuth2 clients (Swagger UI among them) show error_description
        body.setdefault("error_description", detail)
    return body


async def send_problem(
    send: Send,
    scope: Scope,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Answer with a problem+json document straight from ASGI middleware, quoting the
    request id as every other error does."""
    context = current_context()
    quoted = {"request_id": context.request_id if context else None, **(extra or {})}
    body = problem_body(status, slug, title, detail, scope.get("path", ""), quoted)
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
                *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _refuse(scope: Scope, send: Send, max_bytes: int) -> None:
    detail = f"request body exceeds {max_bytes} bytes"
    await send_problem(send, scope, 413, "payload-too-large", "Request body too large", detail)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
