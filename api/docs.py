"""Swagger UI and ReDoc served from this process: duty officers may be on a closed network."""

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.links import add_links
from models.inputs import document_text

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/static/docs"


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# The sections of /docs, in the order a duty officer needs them: the records and the ways to
# follow them first, then looking up agencies and oneself, and what only auditors and load
# balancers call last. Swagger UI and ReDoc both show tags in this order.
TAGS = [
    {
        "name": "alerts",
        "description": "Incident alerts: people-smuggling departures, vessels at sea, landings, "
        "facilitator activity. Publish, update, cancel, acknowledge; CAP 1.2 export.",
    },
    {
        "name": "distress-reports",
        "description": "Vessel-in-distress reports (IMO SITREP short form). Every rescue "
        "centre (MRCC) of the network reads every `actual` report, whatever its handling.",
    },
    {
        "name": "cases",
        "description": "One boat, one picture: the records sharing a `case_id`, a vessel's "
        "records and track by MMSI, IMO or call sign; only what you may read.",
    },
    {
        "name": "feed",
        "description": "Every change you may see, in order, for systems that cannot take "
        "webhooks: long-poll with `wait` and keep `next_cursor`.",
    },
    {
        "name": "webhooks",
        "description": "Subscriptions (agency admins): have events POSTed to your system, "
        "signed per Standard Webhooks; see every delivery attempt.",
    },
    {"name": "geo", "description": "The record lists as GeoJSON, for maps ([lon, lat] order)."},
    {
        "name": "registry",
        "description": "Member countries, agencies (their codes address records) and API "
        "clients. Changing them is for administrators.",
    },
    {
        "name": "auth",
        "description": "Tokens (the **Authorize** button does this for you) and who you are.",
    },
    {"name": "audit", "description": "The tamper-evident audit trail (auditors, platform admins)."},
    {"name": "operations", "description": "Probes for load balancers; no token needed."},
]


def _errors_as_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every 4xx/5xx answer as what it is: application/problem+json."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {"application/problem+json": {"schema": PROBLEM_REF}}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _text_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """Document what api/parameters.py refuses: control characters in path and query values."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("path", "query") and "schema" in parameter:
                    document_text(parameter["schema"])
    return schema


# The docs pages are where duty officers authorize and press Execute: no other site may frame
# them (clickjacking). Their scripts are not restricted: Swagger UI starts from an inline
# script whose text moves with its version (DECISIONS.md, "The duty console").
UNFRAMED = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}


def unframed(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(UNFRAMED)
    return page


def install(app: FastAPI) -> None:
    app.openapi_tags = TAGS
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()  # FastAPI caches what it returns: fix it in place
            _errors_as_problems(schema)
            _text_parameters(schema)
            add_links(schema)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return unframed(
            get_swagger_ui_html(
                openapi_url="/openapi.json",
                title="RILON Liaison API — console",
                swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                oauth2_redirect_url="/docs/oauth2-redirect",
                # no persistAuthorization: it would keep the client secret in the browser's storage
                swagger_ui_parameters={"displayRequestDuration": True},
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return unframed(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return unframed(
            get_redoc_html(
                openapi_url="/openapi.json",
                title="RILON Liaison API — reference",
                redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
