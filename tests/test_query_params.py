"""A query parameter an endpoint does not take is a 422 naming it, never silently ignored."""

import re
from typing import Any

import httpx

from auth.scopes import ROLE_SCOPES
from models.enums import Role
from tests.support import Network, alert_body, distress_body

BOGUS = "bogus_filter"


def _named(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    found: list[dict[str, Any]] = [error for error in errors if error["field"] == field]
    assert found, errors
    return found[0]


async def test_a_misspelt_filter_is_422_not_everything(network: Network) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    for severity in ("minor", "extreme"):
        body = alert_body(severity=severity, case_id="BDCG-7")
        created = await network.http.post("/v1/alerts", json=body, headers=headers)
        assert created.status_code == 201, created.text
    filtered = await network.http.get("/v1/alerts?severity=extreme", headers=headers)
    assert len(filtered.json()["items"]) == 1

    typo = await network.http.get("/v1/alerts?sever1ty=extreme", headers=headers)
    assert "did you mean severity" in _named(typo, "query.sever1ty")["message"]
    assert _named(
        await network.http.get("/v1/alerts?case_idd=BDCG-7", headers=headers), "query.case_idd"
    )
    # the case and vessel filters are filters: a value they cannot take is named, not ignored
    by_case = await network.http.get("/v1/alerts?case_id=BDCG-7", headers=headers)
    assert len(by_case.json()["items"]) == 2
    for name in ("case_id", "mmsi", "imo", "call_sign"):
        response = await network.http.get(f"/v1/alerts?{name}=%25", headers=headers)
        assert _named(response, f"query.{name}")
    both = await network.http.get(f"/v1/alerts?limit=5&{BOGUS}=1&other=2", headers=headers)
    assert {e["field"] for e in both.json()["errors"]} == {f"query.{BOGUS}", "query.other"}


async def test_an_empty_filter_is_422_not_everything(network: Network) -> None:
    """`?bbox=` once listed everything, as if no box had been asked for."""
    headers = await network.headers(Role.VIEWER, "BD-CG")
    for url in ("/v1/alerts?bbox=", "/v1/geo/distress-reports?bbox="):
        assert _named(await network.http.get(url, headers=headers), "bbox")


async def test_a_filter_given_twice_is_422(network: Network) -> None:
    """`?state=active&state=cancelled` would otherwise list the cancelled ones only."""
    headers = await network.headers(Role.VIEWER, "BD-CG")
    response = await network.http.get("/v1/alerts?state=active&state=cancelled", headers=headers)
    assert "more than once" in _named(response, "query.state")["message"]


async def test_every_list_endpoint_refuses_unknown_parameters(network: Network) -> None:
    officer = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    admin = await network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    auditor = await network.headers(Role.AUDITOR, "TH-MECC")
    alert = await network.http.post("/v1/alerts", json=alert_body(), headers=officer)
    report = await network.http.post("/v1/distress-reports", json=distress_body(), headers=officer)
    subscription = await network.http.post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["*"]},
        headers=admin,
    )
    assert {alert.status_code, report.status_code, subscription.status_code} == {201}
    alert_id, report_id = alert.json()["id"], report.json()["id"]
    lists = [
        ("/v1/alerts?severity=minor", officer),
        ("/v1/distress-reports?state=open", officer),
        ("/v1/geo/alerts?limit=5", officer),
        ("/v1/geo/distress-reports?limit=5", officer),
        (f"/v1/alerts/{alert_id}/versions", officer),
        (f"/v1/alerts/{alert_id}/acks", officer),
        (f"/v1/distress-reports/{report_id}/versions", officer),
        (f"/v1/distress-reports/{report_id}/acks", officer),
        (f"/v1/alerts/{alert_id}/sightings", officer),
        ("/v1/cases?limit=5", officer),
        ("/v1/cases/BDCG-2026-1123-07", officer),
        ("/v1/feed?limit=5", officer),
        ("/v1/countries", officer),
        ("/v1/agencies?country=MY", officer),
        ("/v1/agencies/TH-MECC/clients", admin),
        ("/v1/subscriptions", admin),
        (f"/v1/subscriptions/{subscription.json()['id']}/deliveries?state=pending", admin),
        ("/v1/audit-events?limit=5", auditor),
    ]
    for url, headers in lists:
        fine = await network.http.get(url, headers=headers)
        assert fine.status_code == 200, (url, fine.text)
        joiner = "&" if "?" in url else "?"
        refused = await network.http.get(f"{url}{joiner}{BOGUS}=1", headers=headers)
        assert _named(refused, f"query.{BOGUS}"), url


async def _holder_of(network: Network, operation: dict[str, Any]) -> dict[str, str]:
    """Headers of a role holding every scope the operation asks for."""
    wanted = {
        scope
        for need in operation.get("security", [])
        for scopes in need.values()
        for scope in scopes
    }
    for role, agency in ROLES:
        if wanted <= {str(scope) for scope in ROLE_SCOPES[role]}:
            return await network.headers(role, agency)
    raise AssertionError(f"no role holds {wanted}")


ROLES = [
    (Role.DUTY_OFFICER, "BD-CG"),
    (Role.AGENCY_ADMIN, "TH-MECC"),
    (Role.AUDITOR, "TH-MECC"),
    (Role.PLATFORM_ADMIN, "RSO"),
]


async def test_every_documented_operation_refuses_unknown_parameters(network: Network) -> None:
    """Walk the OpenAPI document: no operation (but the token endpoint) lets one through, for
    a caller allowed to call it; a caller without a token is told to authenticate first."""
    paths = (await network.http.get("/openapi.json")).json()["paths"]
    checked = 0
    for path, operations in paths.items():
        url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        for method, operation in operations.items():
            if path == "/v1/auth/token":
                continue
            headers = await _holder_of(network, operation)
            response = await network.http.request(
                method.upper(), f"{url}?{BOGUS}=1", headers=headers
            )
            assert _named(response, f"query.{BOGUS}"), (method, path)
            if operation.get("security"):
                anonymous = await network.http.request(method.upper(), f"{url}?{BOGUS}=1")
                assert anonymous.status_code == 401, (method, path)
            checked += 1
    assert checked > 30


async def test_the_token_endpoint_ignores_what_it_does_not_know(network: Network) -> None:
    """RFC 6749 §3.2: the token endpoint MUST ignore unrecognised request parameters."""
    credential = network.role(Role.VIEWER, "BD-CG")
    form = {
        "grant_type": "client_credentials",
        "client_id": credential.client_id,
        "client_secret": credential.secret,
    }
    response = await network.http.post("/v1/auth/token?resource=rilon", data=form)
    assert response.status_code == 200, response.text
