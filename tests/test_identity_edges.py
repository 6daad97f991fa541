"""Identity edges: what the audit trail keeps of clients and agencies made, a grant that opens
another country's records, and a secret typed where the client id goes."""

import json
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from api.app import create_app
from models.enums import Role
from tests.conftest import make_settings
from tests.support import Network, alert_body, handling

GRANT = "platform_admin_grant"
CLIENTS = "POST /v1/agencies/{code}/clients"
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


async def _audit(network: Network, role: Role, agency: str, **params: Any) -> list[Any]:
    headers = await network.headers(role, agency)
    response = await network.http.get(
        "/v1/audit-events", params={"limit": 500, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_client_made_for_another_countrys_secretariat_agency_is_flagged(
    network: Network,
) -> None:
    """DESIGN.md: "a client it [a platform admin] creates for another agency ... is announced
    to that agency's admins ... and flagged in the audit trail". DECISIONS.md exempts only "a
    platform admin's clients in its own secretariat agency". A second agency of type
    `secretariat`, registered in Malaysia, is another agency: its clients read Malaysia's
    national traffic, so Malaysia's auditors must see the grant."""
    platform = await network.headers(Role.PLATFORM_ADMIN)
    agency = {"code": "MY-SEC", "name": "Desk", "country": "MY", "type": "secretariat"}
    assert (await network.http.post("/v1/agencies", json=agency, headers=platform)).is_success
    made = await network.http.post(
        "/v1/agencies/MY-SEC/clients", json={"name": "desk", "roles": ["viewer"]}, headers=platform
    )
    assert made.status_code == 201, made.text

    # what the grant opens: Malaysia's national records
    sender = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    posted = await network.http.post(
        "/v1/alerts", json=alert_body(handling=handling("national")), headers=sender
    )
    assert posted.status_code == 201, posted.text
    form = {
        "grant_type": "client_credentials",
        "client_id": made.json()["client_id"],
        "client_secret": made.json()["client_secret"],
    }
    token = (await network.http.post("/v1/auth/token", data=form)).json()["access_token"]
    read = await network.http.get(
        f"/v1/alerts/{posted.json()['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert read.status_code == 200

    rows = await _audit(network, Role.PLATFORM_ADMIN, "RSO", action=CLIENTS)
    [row] = [row for row in rows if row["object_id"] == "MY-SEC"]
    assert row["detail"].get("flag") == GRANT, row
    mine = await _audit(network, Role.AUDITOR, "MY-MMEA", action=CLIENTS)
    assert [r["detail"].get("flag") for r in mine] == [GRANT]


async def test_the_audit_row_of_a_client_creation_names_the_client(network: Network) -> None:
    """DESIGN.md, Audit trail: every request appends `... action, object_type, object_id ...`.
    A created record's row names the record; a created client's row once named only the
    agency, so nobody could tell from the trail who made client X, or with which roles."""
    admin = await network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    made = await network.http.post(
        "/v1/agencies/TH-MECC/clients",
        json={"name": "second desk", "roles": ["agency_admin"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    client_id = made.json()["client_id"]
    rows = await _audit(network, Role.PLATFORM_ADMIN, "RSO", action=CLIENTS)
    assert len(rows) == 1
    assert client_id in json.dumps(rows[0]), rows[0]


async def test_the_audit_row_of_an_agency_creation_names_the_agency(network: Network) -> None:
    """The same for `POST /v1/agencies`: its row had `object_id` null and an empty detail."""
    platform = await network.headers(Role.PLATFORM_ADMIN)
    agency = {"code": "MY-NAVY", "name": "Navy", "country": "MY", "type": "navy"}
    assert (await network.http.post("/v1/agencies", json=agency, headers=platform)).is_success
    [row] = await _audit(network, Role.PLATFORM_ADMIN, "RSO", action="POST /v1/agencies")
    assert "MY-NAVY" in json.dumps(row), row


async def test_swapped_client_id_and_secret_never_reach_the_audit_trail(
    network: Network,
) -> None:
    """Never log secrets. A caller who swaps `client_id` and `client_secret` (an easy slip:
    both are opaque strings, and a 47-character secret fits the 64-character id field) gets
    401, and the trail kept the secret for ever: the row is hash-chained and cannot be
    edited, and it is read by every platform admin."""
    cred = network.role(Role.DUTY_OFFICER, "MY-MMEA")
    swapped = {
        "grant_type": "client_credentials",
        "client_id": cred.secret,
        "client_secret": cred.client_id,
    }
    refused = await network.http.post("/v1/auth/token", data=swapped)
    assert refused.status_code == 401
    rows = await _audit(network, Role.PLATFORM_ADMIN, "RSO", action="POST /v1/auth/token")
    leaked = [row for row in rows if cred.secret in json.dumps(row)]
    assert leaked == [], leaked


def _bootstrap(database_url: str, tmp_path: Path, secret: str) -> Any:
    return create_app(
        make_settings(
            database_url,
            tmp_path,
            bootstrap_admin_id="root-admin",
            bootstrap_admin_secret=secret,
        )
    )


def _form(secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": "root-admin", "client_secret": secret}


async def test_bootstrap_creating_or_resetting_the_platform_admin_is_audited(
    database_url: str, tmp_path: Path
) -> None:
    """DESIGN.md: every change is audited; OPERATOR.md: "Operator commands are audited with
    actor `cli`". Start-up creating a platform admin, and later replacing its secret, are
    operator acts on a credential that holds `registry:manage`, and left no audit row."""
    for secret in ("a" * 40, "b" * 40):
        app = _bootstrap(database_url, tmp_path, secret)
        async with LifespanManager(app):
            pass
    app = _bootstrap(database_url, tmp_path, "b" * 40)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            token = (await http.post("/v1/auth/token", data=_form("b" * 40))).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            listed = await http.get("/v1/audit-events", params={"limit": 500}, headers=headers)
            assert listed.status_code == 200
    operator_rows = [
        row for row in listed.json()["items"] if row["action"].split(" ")[0] not in HTTP_METHODS
    ]
    # one for the creation, one for the secret replaced, none for the same secret again
    actions = [row["action"] for row in operator_rows]
    assert sorted(actions) == ["bootstrap admin created", "bootstrap admin secret replaced"]
    assert not [row for row in listed.json()["items"] if "a" * 40 in json.dumps(row)]
    assert not [row for row in listed.json()["items"] if "b" * 40 in json.dumps(row)]
