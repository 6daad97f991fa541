"""Probes, and the docs console served without any CDN."""

import httpx
from sqlalchemy import create_engine, text

from core.db import normalize_url


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_readyz_fails_when_migrations_are_behind(
    client: httpx.AsyncClient, database_url: str
) -> None:
    engine = create_engine(normalize_url(database_url))
    with engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text("UPDATE alembic_version SET version_num = 'behind'"))
    try:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        engine.dispose()


async def test_docs_use_local_assets_and_client_credentials(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text
    for asset in ("/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css"):
        assert asset in page.text
        assert (await client.get(asset)).status_code == 200
    redoc = await client.get("/redoc")
    assert "cdn." not in redoc.text
    assert "fonts.googleapis" not in redoc.text
    spec = (await client.get("/openapi.json")).json()
    flows = spec["components"]["securitySchemes"]["ClientCredentials"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/v1/auth/token"
    assert "alerts:read" in flows["clientCredentials"]["scopes"]
    me = spec["paths"]["/v1/auth/me"]["get"]
    assert me["security"] == [{"ClientCredentials": []}]
    create = spec["paths"]["/v1/countries"]["post"]
    assert create["security"] == [{"ClientCredentials": ["registry:manage"]}]


async def test_console_is_served_without_outside_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/console")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "http://" not in page.text
    assert "https://" not in page.text
    for asset in ("/static/console/console.js", "/static/console/console.css"):
        assert asset in page.text
        served = await client.get(asset)
        assert served.status_code == 200
        assert "http://" not in served.text
        assert "https://" not in served.text
    script = (await client.get("/static/console/console.js")).text
    for path in ("/v1/auth/token", "/v1/distress-reports?state=open", "/v1/alerts?state=active"):
        assert path in script
