"""Every role gets exactly its scopes: one table of routes, checked for every role."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from models.enums import Role
from tests.support import Network

# DESIGN.md, "Roles → scopes", written out independently of auth/scopes.py.
EXPECTED_SCOPES = {
    Role.VIEWER: {"alerts:read", "distress:read", "feed:read"},
    Role.DUTY_OFFICER: {
        "alerts:read",
        "distress:read",
        "feed:read",
        "alerts:write",
        "distress:write",
        "acks:write",
    },
    Role.AGENCY_ADMIN: {
        "alerts:read",
        "distress:read",
        "feed:read",
        "alerts:write",
        "distress:write",
        "acks:write",
        "subscriptions:manage",
        "clients:manage",
    },
    Role.AUDITOR: {"audit:read"},
    Role.PLATFORM_ADMIN: {"registry:manage", "clients:manage", "audit:read"},
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    scope: str | None  # None: any valid token
    body: Callable[[Role], Any] | None = None
    ok: int = 200


def _victim(network: Network) -> str:
    return network.add_client("victim", "TH-MECC", Role.VIEWER).client_id


ROUTES = [
    Route("GET", "/v1/auth/me", None),
    Route("GET", "/v1/countries", None),
    Route(
        "POST",
        "/v1/countries",
        "registry:manage",
        lambda role: {"code": "Q" + "ABCDE"[list(Role).index(role)], "name": "Test"},
        201,
    ),
    Route("GET", "/v1/agencies", None),
    Route("GET", "/v1/agencies/TH-MECC", None),
    Route(
        "POST",
        "/v1/agencies",
        "registry:manage",
        lambda role: {
            "code": f"TH-{role.upper()[:6]}",
            "name": "x",
            "country": "TH",
            "type": "police",
        },
        201,
    ),
    Route("GET", "/v1/agencies/TH-MECC/clients", "clients:manage"),
    Route(
        "POST",
        "/v1/agencies/TH-MECC/clients",
        "clients:manage",
        lambda role: {"name": "new", "roles": ["viewer"]},
        201,
    ),
    Route("DELETE", "/v1/clients/{victim}", "clients:manage"),
]


@pytest.mark.parametrize("role", list(Role))
async def test_token_carries_exactly_the_roles_scopes(network: Network, role: Role) -> None:
    response = await network.http.get("/v1/auth/me", headers=await network.headers(role))
    assert response.status_code == 200
    assert set(response.json()["scopes"]) == EXPECTED_SCOPES[role]


@pytest.mark.parametrize("role", list(Role))
async def test_route_role_matrix(network: Network, role: Role) -> None:
    headers = await network.headers(role)
    granted = EXPECTED_SCOPES[role]
    for route in ROUTES:
        path = route.path.format(victim=_victim(network) if "{victim}" in route.path else "")
        body = route.body(role) if route.body else None
        response = await network.http.request(route.method, path, json=body, headers=headers)
        allowed = route.scope is None or route.scope in granted
        expected = route.ok if allowed else 403
        assert response.status_code == expected, (route.method, path, role, response.text)
        if not allowed:
            assert response.headers["content-type"] == "application/problem+json"
            assert "insufficient_scope" in response.headers["www-authenticate"]
        network.credentials.pop("victim", None)


async def test_narrowed_scope_is_enforced(network: Network) -> None:
    admin = network.role(Role.AGENCY_ADMIN)
    token = await network.token(admin, scope="alerts:read")
    headers = {"Authorization": f"Bearer {token}"}
    me = await network.http.get("/v1/auth/me", headers=headers)
    assert me.json()["scopes"] == ["alerts:read"]
    denied = await network.http.get("/v1/agencies/TH-MECC/clients", headers=headers)
    assert denied.status_code == 403
