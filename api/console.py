"""The duty console: a read-only page served by the app itself (no CDN, closed networks)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).resolve().parent / "static"
# Scripts and styles from this origin only; the page itself talks to this API only.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class WithPolicy:
    """Every answer of the wrapped app carries `policy`: the static mount serves the console's
    page too (`/static/console/console.html`), and it must not be framed or run there freely."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.header = (b"content-security-policy", policy.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, sending)


def install(app: FastAPI) -> None:
    assets = WithPolicy(StaticFiles(directory=STATIC), POLICY)
    app.mount("/static/console", assets, name="console-assets")

    @app.get("/console", include_in_schema=False)
    async def console() -> HTMLResponse:
        html = (STATIC / "console.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": POLICY})
