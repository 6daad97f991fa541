"""The baseline: bare FastAPI endpoints of the service's shapes, with no database and no auth.

Served exactly as `rilon serve` serves the service (one uvicorn worker, same options), so a
ratio against it prices what the service adds: middleware, auth, the database, hashing.
`BENCH_LIST_RECORDS=N` in the environment: the B3 page over N records, built at start-up, served
as bytes (`/baseline/alerts`) and serialised anew from its rows each request (`.../rows`).
"""

import argparse
import json
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import uvicorn
from fastapi import FastAPI, Form, Response
from pydantic import BaseModel

from bench import dataset
from core.jsontext import dumps
from models.alerts import AlertCreate

# As long as a demo client's access token (486 characters), so both answers carry the same bytes.
TOKEN = secrets.token_urlsafe(364)
SCOPES = [
    "acks:write",
    "alerts:read",
    "alerts:write",
    "distress:read",
    "distress:write",
    "feed:read",
]
AGENCY = "Thai Maritime Enforcement Command Center"


class Agency(BaseModel):
    code: str
    name: str
    country: str
    type: str


class Me(BaseModel):
    client_id: str
    client_name: str
    agency: Agency
    country: str
    roles: list[str]
    scopes: list[str]
    token_expires_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    scope: str


class Created(BaseModel):
    id: str
    version: int


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    page = dataset.page_json(int(os.environ.get("BENCH_LIST_RECORDS", "0"))).encode()
    rows = json.loads(page)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/baseline/me", response_model=Me)
    async def me() -> Me:
        return Me(
            client_id="demo-th-mecc-duty",
            client_name="MECC watch floor",
            agency=Agency(
                code="TH-MECC", name="Maritime Command", country="TH", type="coast_guard"
            ),
            country="TH",
            roles=["duty_officer"],
            scopes=SCOPES,
            token_expires_at=datetime.now(UTC) + timedelta(seconds=900),
        )

    @app.post("/baseline/token", response_model=Token)
    async def token(
        response: Response,
        grant_type: Annotated[str | None, Form()] = None,
        client_id: Annotated[str | None, Form(max_length=64)] = None,
        client_secret: Annotated[str | None, Form(max_length=200)] = None,
        scope: Annotated[str | None, Form()] = None,
    ) -> Token:
        response.headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
        return Token(access_token=TOKEN, expires_in=900, scope=scope or " ".join(SCOPES))

    @app.post("/baseline/alerts", status_code=201, response_model=Created)
    async def create_alert(body: AlertCreate) -> Created:
        return Created(id=str(uuid.uuid4()), version=1)

    @app.get("/baseline/alerts")
    async def list_alerts() -> Response:
        """The B3 page, serialised once: what is left when the database is taken away."""
        return Response(content=page, media_type="application/json")

    @app.get("/baseline/alerts/rows")
    async def list_alert_rows() -> Response:
        """The same 50 rows serialised each request, as the service writes JSON: DESIGN.md's B3
        baseline ("serialising the same 50 rows without a database")."""
        return Response(content=dumps(rows), media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the benchmark baseline")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        "bench.baseline:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        proxy_headers=False,
        server_header=False,
        access_log=False,  # as the service is run here (`rilon serve --no-access-log`)
    )


if __name__ == "__main__":
    main()
