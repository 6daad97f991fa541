"""List filters and keyset pagination."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from models.alerts import AlertCreate
from models.enums import AgencyType, Role
from services.records.kinds import ALERTS
from services.records.publishing import publish
from tests.support import Network, alert_body, distress_body, handling


async def _ids(network: Network, url: str, headers: dict[str, str]) -> list[str]:
    response = await network.http.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return [doc["id"] for doc in response.json()["items"]]


async def test_filters(network: Network) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    post = network.http.post

    async def alert(**changes: Any) -> str:
        response = await post("/v1/alerts", json=alert_body(**changes), headers=headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    landing = await alert(
        category="landing",
        severity="minor",
        headline="Landing at Langkawi",
        location={"lat": 6.35, "lon": 99.8},
    )
    extreme = await alert(severity="extreme", location={"lat": 21.0, "lon": 92.2})
    fiji = await alert(location={"lat": -17.0, "lon": 179.5}, severity="moderate")
    expired = await alert(expires_at="2020-01-01T00:00:00Z", severity="moderate")
    assert await _ids(network, "/v1/alerts?category=landing", headers) == [landing]
    assert await _ids(network, "/v1/alerts?severity=extreme", headers) == [extreme]
    assert set(await _ids(network, "/v1/alerts?severity=moderate", headers)) == {
        extreme,
        fiji,
        expired,
    }
    assert await _ids(network, "/v1/alerts?bbox=99,6,100,7", headers) == [landing]
    assert await _ids(network, "/v1/alerts?bbox=179,-18,-179,-16", headers) == [fiji]
    assert await _ids(network, "/v1/alerts?q=LANGKAWI", headers) == [landing]
    assert await _ids(network, "/v1/alerts?q=100%25", headers) == []
    assert await _ids(network, "/v1/alerts?q=LANGKAW_", headers) == []  # not a wildcard
    assert await _ids(network, "/v1/alerts?q=LANG%25KAWI", headers) == []
    assert await _ids(network, "/v1/alerts?state=expired", headers) == [expired]
    assert expired not in await _ids(network, "/v1/alerts?state=active", headers)
    got = (await network.http.get(f"/v1/alerts/{expired}", headers=headers)).json()
    assert got["state"] == "expired"
    assert await _ids(network, "/v1/alerts?sender_country=MY", headers) == []
    assert len(await _ids(network, "/v1/alerts?sender_country=BD", headers)) == 4
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (
        await _ids(network, f"/v1/alerts?updated_since={future.replace('+', '%2B')}", headers) == []
    )
    await network.http.post("/v1/distress-reports", json=distress_body(), headers=headers)
    assert len(await _ids(network, "/v1/distress-reports?severity=extreme", headers)) == 1


async def test_bad_query_parameters_are_422(network: Network) -> None:
    headers = await network.headers(Role.VIEWER, "BD-CG")
    for query, field in (
        ("limit=0", "query.limit"),
        ("limit=201", "query.limit"),
        ("limit=x", "query.limit"),
        ("cursor=bogus", "cursor"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=0,50,10,40", "bbox"),
        ("severity=huge", "query.severity"),
        ("state=open", "query.state"),
        ("updated_since=yesterday", "query.updated_since"),
        ("updated_since=2026-01-01T00:00:00", "query.updated_since"),
        ("updated_since=1700000000", "query.updated_since"),
        ("sender_country=thailand", "query.sender_country"),
    ):
        response = await network.http.get(f"/v1/alerts?{query}", headers=headers)
        assert response.status_code == 422, query
        assert field in [e["field"] for e in response.json()["errors"]], (query, response.text)
    distress = await network.http.get("/v1/distress-reports?category=landing", headers=headers)
    assert distress.status_code == 422


async def test_keyset_pagination_under_concurrent_inserts(network: Network) -> None:
    """1,000 records paged 37 at a time while more arrive: each seen exactly once."""
    sender = network.role(Role.DUTY_OFFICER, "BD-CG")
    principal = Principal(
        client_id=sender.client_id,
        agency="BD-CG",
        country="BD",
        agency_type=AgencyType.COAST_GUARD,
        roles=frozenset([Role.DUTY_OFFICER]),
        scopes=ROLE_SCOPES[Role.DUTY_OFFICER],
        jti="x",
        expires_at=datetime.now(UTC),
    )
    data = AlertCreate.model_validate(alert_body(handling=handling("national")))

    def bulk(session: Session) -> list[str]:
        return [publish(session, principal, ALERTS, data).id for _ in range(1000)]

    existing = set(network.db.run_write(bulk))
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    seen: list[str] = []
    added: list[str] = []
    cursor = None
    while True:
        url = "/v1/alerts?limit=37" + (f"&cursor={cursor}" if cursor else "")
        page, inserts = await asyncio.gather(
            network.http.get(url, headers=headers),
            network.http.post(
                "/v1/alerts", json=alert_body(handling=handling("national")), headers=headers
            ),
        )
        added.append(inserts.json()["id"])
        body = page.json()
        seen += [doc["id"] for doc in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert existing <= set(seen)
    assert set(seen) <= existing | set(added)
    assert uuid.UUID(seen[0])
