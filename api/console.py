"""The duty console: a read-only page served by the app itself (no CDN, closed networks)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
# Scripts and styles from this origin only; the page itself talks to this API only.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def install(app: FastAPI) -> None:
    app.mount("/static/console", StaticFiles(directory=STATIC), name="console-assets")

    @app.get("/console", include_in_schema=False)
    async def console() -> HTMLResponse:
        html = (STATIC / "console.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": POLICY})
