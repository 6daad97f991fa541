"""Countries, agencies and clients; secrets shown once; no mass assignment."""

from models.enums import Role
from tests.support import Network


async def test_platform_admin_builds_the_registry(network: Network) -> None:
    admin = await network.headers(Role.PLATFORM_ADMIN)
    created = await network.http.post(
        "/v1/countries", json={"code": "LK", "name": "Sri Lanka"}, headers=admin
    )
    assert created.status_code == 201
    agency = {
        "code": "LK-CG",
        "name": "Sri Lanka Coast Guard",
        "country": "LK",
        "type": "coast_guard",
    }
    response = await network.http.post("/v1/agencies", json=agency, headers=admin)
    assert response.status_code == 201
    assert response.headers["location"] == "/v1/agencies/LK-CG"
    got = await network.http.get("/v1/agencies/LK-CG", headers=admin)
    assert got.json() == agency
    listed = await network.http.get("/v1/agencies", params={"country": "LK"}, headers=admin)
    assert [a["code"] for a in listed.json()] == ["LK-CG"]
    countries = await network.http.get("/v1/countries", headers=admin)
    assert {"code": "LK", "name": "Sri Lanka"} in countries.json()


async def test_duplicates_conflict_and_unknown_country_is_422(network: Network) -> None:
    admin = await network.headers(Role.PLATFORM_ADMIN)
    again = await network.http.post(
        "/v1/countries", json={"code": "TH", "name": "x"}, headers=admin
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    agency = {"code": "ZZ-X", "name": "x", "country": "ZZ", "type": "police"}
    response = await network.http.post("/v1/agencies", json=agency, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "country"
    missing = await network.http.get("/v1/agencies/NO-SUCH", headers=admin)
    assert missing.status_code == 404


async def test_secret_is_shown_once(network: Network) -> None:
    admin = await network.headers(Role.AGENCY_ADMIN)
    created = await network.http.post(
        "/v1/agencies/TH-MECC/clients",
        json={"name": "watch", "roles": ["duty_officer"]},
        headers=admin,
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    assert body["client_secret"].startswith("rls_")
    listed = await network.http.get("/v1/agencies/TH-MECC/clients", headers=admin)
    assert listed.status_code == 200
    assert all("client_secret" not in c and "secret_hash" not in c for c in listed.json())
    assert body["client_secret"] not in listed.text
    assert body["client_id"] in [c["client_id"] for c in listed.json()]


async def test_agency_admin_cannot_touch_another_agencys_clients(network: Network) -> None:
    my_admin = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    th_viewer = network.role(Role.VIEWER, "TH-MECC")
    listed = await network.http.get("/v1/agencies/TH-MECC/clients", headers=my_admin)
    assert listed.status_code == 403
    created = await network.http.post(
        "/v1/agencies/TH-MECC/clients", json={"name": "x", "roles": ["viewer"]}, headers=my_admin
    )
    assert created.status_code == 403
    deleted = await network.http.delete(f"/v1/clients/{th_viewer.client_id}", headers=my_admin)
    assert deleted.status_code == 404
    still = await network.http.get("/v1/auth/me", headers=await network.headers(Role.VIEWER))
    assert still.status_code == 200


async def test_no_role_escalation(network: Network) -> None:
    admin = await network.headers(Role.AGENCY_ADMIN)
    for roles, status in (
        (["auditor"], 403),
        (["platform_admin"], 422),
        (["viewer", "platform_admin"], 422),
    ):
        response = await network.http.post(
            "/v1/agencies/TH-MECC/clients", json={"name": "x", "roles": roles}, headers=admin
        )
        assert response.status_code == status, roles
    my_admin = await network.headers(Role.DUTY_OFFICER)
    response = await network.http.post(
        "/v1/agencies/TH-MECC/clients", json={"name": "x", "roles": ["viewer"]}, headers=my_admin
    )
    assert response.status_code == 403
    listed = await network.http.get("/v1/agencies/TH-MECC/clients", headers=admin)
    assert all(c["name"] != "x" for c in listed.json())
    platform = await network.headers(Role.PLATFORM_ADMIN)
    response = await network.http.post(
        "/v1/agencies/TH-MECC/clients",
        json={"name": "x", "roles": ["platform_admin"]},
        headers=platform,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "roles"


async def test_no_mass_assignment(network: Network) -> None:
    admin = await network.headers(Role.AGENCY_ADMIN)
    for extra in (
        {"agency": "MY-MMEA"},
        {"client_id": "mine"},
        {"active": False},
        {"secret_hash": "x"},
        {"country": "MY"},
    ):
        response = await network.http.post(
            "/v1/agencies/TH-MECC/clients",
            json={"name": "x", "roles": ["viewer"], **extra},
            headers=admin,
        )
        assert response.status_code == 422, extra
        assert response.json()["errors"][0]["field"] == next(iter(extra))
    listed = await network.http.get("/v1/agencies/TH-MECC/clients", headers=admin)
    assert all(c["name"] != "x" for c in listed.json())


async def test_bad_registry_input_is_422_naming_the_field(network: Network) -> None:
    admin = await network.headers(Role.PLATFORM_ADMIN)
    cases = [
        ({"code": "tha", "name": "x"}, "code"),
        ({"code": "TH"}, "name"),
    ]
    for body, field in cases:
        response = await network.http.post("/v1/countries", json=body, headers=admin)
        assert response.status_code == 422
        assert field in [e["field"] for e in response.json()["errors"]]
    agency = {"code": "TH-X", "name": "x", "country": "TH", "type": "pirates"}
    response = await network.http.post("/v1/agencies", json=agency, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "type"
