"""What a platform admin grants is announced to those it concerns and flagged in the trail.

A platform admin reads no content, but the clients and agencies it makes do: a client made for
another agency is told to that agency's admins (`client.created`), a new agency to its
country's agencies and, an MRCC, to every MRCC (`agency.created`), by feed and by webhook.
"""

import json
from typing import Any

from models.enums import Role
from tests.hooks import Hooks
from tests.support import Network

MRCCS = ["TH-MRCC", "MY-MRCC", "ID-BASARNAS"]
GRANT = "platform_admin_grant"


async def _feed(network: Network, agency: str, role: Role = Role.AGENCY_ADMIN) -> list[Any]:
    headers = await network.headers(role, agency)
    response = await network.http.get("/v1/feed", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def _of(events: list[Any], event_type: str) -> list[Any]:
    return [event for event in events if event["type"] == event_type]


async def _audit_rows(network: Network, action: str, role_agency: str) -> list[Any]:
    role = Role.PLATFORM_ADMIN if role_agency == "RSO" else Role.AUDITOR
    headers = await network.headers(role, role_agency)
    response = await network.http.get(
        "/v1/audit-events", params={"action": action, "limit": 500}, headers=headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_client_made_for_another_agency_is_told_to_its_admins_alone(
    network: Network,
) -> None:
    platform = await network.headers(Role.PLATFORM_ADMIN)
    made = await network.http.post(
        "/v1/agencies/MY-MMEA/clients",
        json={"name": "night desk", "roles": ["viewer"]},
        headers=platform,
    )
    assert made.status_code == 201, made.text
    [told] = _of(await _feed(network, "MY-MMEA"), "client.created")
    assert told["data"]["client_id"] == made.json()["client_id"]
    assert told["data"]["roles"] == ["viewer"]
    assert told["data"]["created_by_agency"] == "RSO"
    assert "client_secret" not in told["data"]
    for agency, role in (
        ("MY-MMEA", Role.VIEWER),  # reads content, manages no clients
        ("MY-MRCC", Role.AGENCY_ADMIN),  # same country, another agency
        ("TH-MECC", Role.AGENCY_ADMIN),
    ):
        assert _of(await _feed(network, agency, role), "client.created") == [], agency

    # an agency admin making its own client, or the secretariat's own: nothing to tell
    own = await network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    body = {"name": "x", "roles": ["viewer"]}
    assert (
        await network.http.post("/v1/agencies/TH-MECC/clients", json=body, headers=own)
    ).is_success
    assert (
        await network.http.post("/v1/agencies/RSO/clients", json=body, headers=platform)
    ).is_success
    assert _of(await _feed(network, "TH-MECC"), "client.created") == []

    action = "POST /v1/agencies/{code}/clients"
    rows = {row["object_id"]: row for row in await _audit_rows(network, action, "RSO")}
    assert rows["MY-MMEA"]["detail"]["flag"] == GRANT
    assert "flag" not in rows["TH-MECC"]["detail"]
    assert "flag" not in rows["RSO"]["detail"]
    # the country whose agency got the client sees it in its own trail
    mine = await _audit_rows(network, action, "MY-MMEA")
    assert [row["detail"].get("flag") for row in mine] == [GRANT]


async def test_a_new_mrcc_is_told_to_every_mrcc_and_its_country(network: Network) -> None:
    platform = await network.headers(Role.PLATFORM_ADMIN)
    body = {"code": "BD-MRCC", "name": "Chittagong MRCC", "country": "BD", "type": "mrcc"}
    assert (await network.http.post("/v1/agencies", json=body, headers=platform)).is_success
    for agency in [*MRCCS, "BD-CG"]:
        [told] = _of(await _feed(network, agency), "agency.created")
        assert (told["data"]["code"], told["data"]["type"]) == ("BD-MRCC", "mrcc"), agency
    for agency in ("TH-MECC", "MY-MMEA"):  # neither an MRCC nor of Bangladesh
        assert _of(await _feed(network, agency), "agency.created") == [], agency
    [row] = await _audit_rows(network, "POST /v1/agencies", "RSO")
    assert row["detail"]["flag"] == GRANT
    assert len(await _audit_rows(network, "POST /v1/agencies", "BD-CG")) == 1

    # another kind of agency is news for its own country alone, and no grant in itself
    navy = {"code": "MY-NAVY", "name": "Royal Malaysian Navy", "country": "MY", "type": "navy"}
    assert (await network.http.post("/v1/agencies", json=navy, headers=platform)).is_success
    for agency, told in (("MY-MMEA", 1), ("MY-MRCC", 1), ("TH-MRCC", 0), ("BD-CG", 0)):
        news = [e["data"]["code"] for e in _of(await _feed(network, agency), "agency.created")]
        assert news.count("MY-NAVY") == told, agency
    rows = await _audit_rows(network, "POST /v1/agencies", "RSO")
    assert [row["detail"].get("flag") for row in rows] == [GRANT, None]


async def test_webhooks_carry_them_to_exactly_those_agencies(hooks: Hooks) -> None:
    network = hooks.network
    agencies = [*MRCCS, "TH-MECC", "MY-MMEA", "BD-CG"]
    for agency in agencies:
        await hooks.subscribe(agency, path=f"/{agency}")
    # a notice is not a record: the record filters (place, severity, sender) do not drop it
    far_away = {"bbox": [-10.0, -10.0, -9.0, -9.0], "min_severity": "extreme"}
    await hooks.subscribe(
        "MY-MRCC", path="/filtered", event_types=["agency.created"], filter=far_away
    )
    platform = await network.headers(Role.PLATFORM_ADMIN)
    mrcc = {"code": "BD-MRCC", "name": "Chittagong MRCC", "country": "BD", "type": "mrcc"}
    assert (await network.http.post("/v1/agencies", json=mrcc, headers=platform)).is_success
    client = {"name": "night desk", "roles": ["duty_officer"]}
    made = await network.http.post("/v1/agencies/MY-MMEA/clients", json=client, headers=platform)
    assert made.is_success
    await hooks.pump()

    def types(path: str) -> list[str]:
        return sorted(json.loads(r.body)["type"] for r in hooks.receiver.at(path))

    expected = {
        "/TH-MRCC": ["agency.created"],
        "/MY-MRCC": ["agency.created"],
        "/ID-BASARNAS": ["agency.created"],
        "/BD-CG": ["agency.created"],
        "/TH-MECC": [],
        "/MY-MMEA": ["client.created"],
        "/filtered": ["agency.created"],
    }
    assert {path: types(path) for path in expected} == expected
