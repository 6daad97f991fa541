"""Every role gets exactly its scopes (what each route then allows: test_access_matrix.py)."""

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
        "sightings:write",
    },
    Role.AGENCY_ADMIN: {
        "alerts:read",
        "distress:read",
        "feed:read",
        "alerts:write",
        "distress:write",
        "acks:write",
        "sightings:write",
        "subscriptions:manage",
        "clients:manage",
    },
    Role.AUDITOR: {"audit:read"},
    Role.PLATFORM_ADMIN: {"registry:manage", "clients:manage", "audit:read"},
}


@pytest.mark.parametrize("role", list(Role))
async def test_token_carries_exactly_the_roles_scopes(network: Network, role: Role) -> None:
    response = await network.http.get("/v1/auth/me", headers=await network.headers(role))
    assert response.status_code == 200
    assert set(response.json()["scopes"]) == EXPECTED_SCOPES[role]


async def test_narrowed_scope_is_enforced(network: Network) -> None:
    admin = network.role(Role.AGENCY_ADMIN)
    token = await network.token(admin, scope="alerts:read")
    headers = {"Authorization": f"Bearer {token}"}
    me = await network.http.get("/v1/auth/me", headers=headers)
    assert me.json()["scopes"] == ["alerts:read"]
    denied = await network.http.get("/v1/agencies/TH-MECC/clients", headers=headers)
    assert denied.status_code == 403
