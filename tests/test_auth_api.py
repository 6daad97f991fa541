"""POST /v1/auth/token, /revoke and /me through real HTTP."""

import base64
import logging

import httpx
import pytest

from core.db import Database
from models.enums import Role
from tests.support import Network


def _form(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        **extra,
    }


async def test_token_with_form_credentials(network: Network) -> None:
    cred = network.role(Role.DUTY_OFFICER)
    response = await network.http.post("/v1/auth/token", data=_form(cred.client_id, cred.secret))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert "alerts:write" in body["scope"].split()
    assert response.headers["cache-control"] == "no-store"


async def test_token_with_basic_credentials(network: Network) -> None:
    cred = network.role(Role.VIEWER)
    basic = base64.b64encode(f"{cred.client_id}:{cred.secret}".encode()).decode()
    response = await network.http.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    me = await network.http.get(
        "/v1/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["client_id"] == cred.client_id
    assert me.json()["agency"]["code"] == "TH-MECC"
    assert me.json()["country"] == "TH"
    assert me.json()["roles"] == ["viewer"]


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("nobody", "whatever"), ("good", "wrong-secret"), ("good", "")],
)
async def test_bad_credentials_get_invalid_client(
    network: Network, client_id: str, secret: str
) -> None:
    cred = network.role(Role.VIEWER)
    real_id = cred.client_id if client_id == "good" else client_id
    response = await network.http.post("/v1/auth/token", data=_form(real_id, secret))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["content-type"] == "application/problem+json"


async def test_wrong_grant_type_and_scope(network: Network) -> None:
    cred = network.role(Role.VIEWER)
    form = _form(cred.client_id, cred.secret, grant_type="password")
    response = await network.http.post("/v1/auth/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    form = _form(cred.client_id, cred.secret, scope="alerts:write")
    response = await network.http.post("/v1/auth/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert response.json()["error_description"]
    form = _form(cred.client_id, cred.secret, scope="alerts:read bogus:scope")
    response = await network.http.post("/v1/auth/token", data=form)
    assert response.status_code == 400


async def test_asking_for_more_scopes_grants_only_those_held(network: Network) -> None:
    """Swagger UI's "select all": RFC 6749 §3.3 lets us issue the subset the client holds."""
    cred = network.role(Role.VIEWER)
    form = _form(cred.client_id, cred.secret, scope="alerts:read alerts:write registry:manage")
    response = await network.http.post("/v1/auth/token", data=form)
    assert response.status_code == 200
    assert response.json()["scope"] == "alerts:read"


async def test_no_or_malformed_bearer_is_401(network: Network) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer abc.def.ghi"},
    ):
        response = await network.http.get("/v1/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_revoked_token_fails_at_once(network: Network) -> None:
    cred = network.role(Role.DUTY_OFFICER)
    token = await network.token(cred)
    other = await network.http.post("/v1/auth/token", data=_form(cred.client_id, cred.secret))
    other_token = other.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await network.http.get("/v1/auth/me", headers=headers)).status_code == 200
    response = await network.http.post("/v1/auth/revoke", data={"token": token}, headers=headers)
    assert response.json() == {"revoked": True}
    assert (await network.http.get("/v1/auth/me", headers=headers)).status_code == 401
    other_headers = {"Authorization": f"Bearer {other_token}"}
    assert (await network.http.get("/v1/auth/me", headers=other_headers)).status_code == 200


async def test_revoking_garbage_is_a_harmless_200(network: Network) -> None:
    headers = await network.headers(Role.VIEWER)
    response = await network.http.post(
        "/v1/auth/revoke", data={"token": "garbage"}, headers=headers
    )
    assert response.status_code == 200
    assert response.json() == {"revoked": False}


async def test_cannot_revoke_another_agencys_token(network: Network) -> None:
    mine = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    theirs = await network.token(network.role(Role.VIEWER, "TH-MECC"))
    response = await network.http.post("/v1/auth/revoke", data={"token": theirs}, headers=mine)
    assert response.status_code == 403
    still = await network.http.get("/v1/auth/me", headers={"Authorization": f"Bearer {theirs}"})
    assert still.status_code == 200


async def test_agency_admin_revokes_own_agency_token(network: Network) -> None:
    admin = await network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    target = await network.token(network.role(Role.VIEWER, "TH-MECC"))
    response = await network.http.post("/v1/auth/revoke", data={"token": target}, headers=admin)
    assert response.json() == {"revoked": True}
    gone = await network.http.get("/v1/auth/me", headers={"Authorization": f"Bearer {target}"})
    assert gone.status_code == 401


async def test_deactivated_clients_tokens_die_at_once(network: Network) -> None:
    cred = network.role(Role.DUTY_OFFICER)
    headers = {"Authorization": f"Bearer {await network.token(cred)}"}
    assert (await network.http.get("/v1/auth/me", headers=headers)).status_code == 200
    admin = await network.headers(Role.AGENCY_ADMIN)
    response = await network.http.delete(f"/v1/clients/{cred.client_id}", headers=admin)
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert (await network.http.get("/v1/auth/me", headers=headers)).status_code == 401
    again = await network.http.post("/v1/auth/token", data=_form(cred.client_id, cred.secret))
    assert again.status_code == 401


async def test_secrets_are_never_logged(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await network.headers(Role.AGENCY_ADMIN)
    created = await network.http.post(
        "/v1/agencies/TH-MECC/clients", json={"name": "x", "roles": ["viewer"]}, headers=admin
    )
    secret = created.json()["client_secret"]
    token_response = await network.http.post(
        "/v1/auth/token", data=_form(created.json()["client_id"], secret)
    )
    token = token_response.json()["access_token"]
    await network.http.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    await network.http.post("/v1/auth/token", data=_form(created.json()["client_id"], "bad"))
    text = caplog.text
    assert secret not in text
    assert token not in text
    assert admin["Authorization"].split()[1] not in text


async def test_token_endpoint_rate_limit(app_limited: httpx.AsyncClient, db: Database) -> None:
    """Tokens issued spend the client's budget (2, then 1 a minute here); failures spend none
    of it (they are limited per source: tests/test_token_throttle.py)."""
    network = Network.seed(db, app_limited)
    greedy, patient = network.role(Role.VIEWER), network.role(Role.VIEWER, "MY-MMEA")
    form = _form(greedy.client_id, greedy.secret)
    responses = [await app_limited.post("/v1/auth/token", data=form) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert int(responses[2].headers["retry-after"]) >= 1
    assert responses[2].headers["content-type"] == "application/problem+json"
    other = await app_limited.post("/v1/auth/token", data=_form(patient.client_id, patient.secret))
    assert other.status_code == 200  # one client's limit leaves the others alone
