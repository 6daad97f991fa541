"""Sightings through real HTTP: who may add and read them, what is refused, and who hears."""

from datetime import timedelta
from typing import Any

import pytest

from core.clock import iso, utcnow
from models.enums import Role
from tests.hooks import Hooks
from tests.receiver import verify
from tests.support import Network, alert_body, distress_body, handling

KINDS = [("alerts", alert_body), ("distress-reports", distress_body)]


def sighting(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "observed_at": iso(utcnow() - timedelta(minutes=30)),
        "position": {"lat": 7.95, "lon": 95.6, "accuracy_m": 500},
        "source": "aircraft",
        "heading_deg": 160,
        "speed_kn": 5.5,
        "persons_seen": 120,
        "note": "many persons on deck",
    }
    body.update(changes)
    return body


async def _publish(network: Network, path: str, body: dict[str, Any], agency: str) -> str:
    duty = await network.headers(Role.DUTY_OFFICER, agency)
    response = await network.http.post(f"/v1/{path}", json=body, headers=duty)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize(("path", "body"), KINDS)
async def test_a_reader_adds_and_lists_sightings(network: Network, path: str, body) -> None:  # type: ignore[no-untyped-def]
    record = await _publish(network, path, body(handling=handling("network")), "BD-CG")
    thai = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    url = f"/v1/{path}/{record}/sightings"
    first = await network.http.post(url, json=sighting(), headers=thai)
    assert first.status_code == 201, first.text
    doc = first.json()
    assert doc["record_id"] == record
    assert doc["kind"] == ("alert" if path == "alerts" else "distress")
    assert doc["reported_by"] == "TH-MECC"
    assert doc["position"] == {"lat": 7.95, "lon": 95.6, "accuracy_m": 500}
    assert doc["heading_deg"] == 160
    assert doc["created_at"].endswith("Z")
    second = await network.http.post(
        url,
        json=sighting(source="ais", note=None),
        headers=await network.headers(Role.DUTY_OFFICER, "MY-MMEA"),
    )
    assert second.status_code == 201, second.text
    viewer = await network.headers(Role.VIEWER, "BD-CG")
    listed = await network.http.get(url, headers=viewer)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["items"]] == [doc["id"], second.json()["id"]]
    assert listed.json()["next_cursor"] is None
    page = await network.http.get(f"{url}?limit=1", headers=viewer)
    assert [s["id"] for s in page.json()["items"]] == [doc["id"]]
    rest = await network.http.get(
        f"{url}?limit=1&cursor={page.json()['next_cursor']}", headers=viewer
    )
    assert [s["id"] for s in rest.json()["items"]] == [second.json()["id"]]


async def test_hidden_or_unknown_records_take_no_sightings(network: Network) -> None:
    red = alert_body(handling={"distribution": "agency", "tlp": "red"})
    record = await _publish(network, "alerts", red, "BD-CG")
    thai = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    for record_id in (record, "6f1c2a9e-0000-4000-8000-00000000abcd"):
        url = f"/v1/alerts/{record_id}/sightings"
        added = await network.http.post(url, json=sighting(), headers=thai)
        assert added.status_code == 404, added.text
        assert added.headers["content-type"] == "application/problem+json"
        assert (await network.http.get(url, headers=thai)).status_code == 404
    own = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    listed = await network.http.get(f"/v1/alerts/{record}/sightings", headers=own)
    assert listed.json()["items"] == []  # nothing was written by the refused requests


async def test_a_sighting_needs_the_scope(network: Network) -> None:
    record = await _publish(network, "alerts", alert_body(handling=handling("network")), "BD-CG")
    viewer = await network.headers(Role.VIEWER, "TH-MECC")
    refused = await network.http.post(
        f"/v1/alerts/{record}/sightings", json=sighting(), headers=viewer
    )
    assert refused.status_code == 403
    assert "sightings:write" in refused.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"observed_at": "in 20 minutes"}, "observed_at"),  # made when the test runs
        ({"observed_at": "yesterday"}, "observed_at"),
        ({"position": {"lat": 91.0, "lon": 95.0}}, "position.lat"),
        ({"position": {"lat": 7.0}}, "position.lon"),
        ({"source": "drone"}, "source"),
        ({"heading_deg": 361}, "heading_deg"),
        ({"heading_deg": -1}, "heading_deg"),
        ({"speed_kn": -0.5}, "speed_kn"),
        ({"persons_seen": -3}, "persons_seen"),
        ({"persons_seen": 2.5}, "persons_seen"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_sightings_are_refused_by_field(
    network: Network, changes: dict[str, Any], field: str
) -> None:
    record = await _publish(network, "alerts", alert_body(handling=handling("network")), "BD-CG")
    duty = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    url = f"/v1/alerts/{record}/sightings"
    if changes.get("observed_at") == "in 20 minutes":  # not at collection: the suite is long
        changes = {"observed_at": iso(utcnow() + timedelta(minutes=20))}
    response = await network.http.post(url, json=sighting(**changes), headers=duty)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert (await network.http.get(url, headers=duty)).json()["items"] == []


async def test_a_clock_a_little_ahead_is_accepted(network: Network) -> None:
    record = await _publish(network, "alerts", alert_body(handling=handling("network")), "BD-CG")
    duty = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    ahead = sighting(observed_at=iso(utcnow() + timedelta(minutes=3)))
    response = await network.http.post(f"/v1/alerts/{record}/sightings", json=ahead, headers=duty)
    assert response.status_code == 201, response.text


async def _feed_types(network: Network, role: Role, agency: str) -> list[tuple[str, str]]:
    headers = await network.headers(role, agency)
    response = await network.http.get("/v1/feed?after=0", headers=headers)
    assert response.status_code == 200, response.text
    return [(e["type"], e["data"]["id"]) for e in response.json()["events"]]


async def test_the_feed_tells_exactly_the_records_readers(network: Network) -> None:
    to_malaysia = handling("countries", recipient_countries=["MY"])
    record = await _publish(network, "alerts", alert_body(handling=to_malaysia), "BD-CG")
    reader = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    added = await network.http.post(
        f"/v1/alerts/{record}/sightings", json=sighting(), headers=reader
    )
    assert added.status_code == 201, added.text
    seen = ("sighting.created", added.json()["id"])
    assert seen in await _feed_types(network, Role.VIEWER, "MY-MRCC")
    assert seen in await _feed_types(network, Role.VIEWER, "BD-CG")
    assert seen not in await _feed_types(network, Role.VIEWER, "TH-MECC")
    assert seen not in await _feed_types(network, Role.VIEWER, "ID-BASARNAS")
    events = (await network.http.get("/v1/feed?after=0", headers=reader)).json()["events"]
    event = next(e for e in events if e["type"] == "sighting.created")
    assert event["data"]["record_id"] == record
    assert event["data"]["kind"] == "alert"


async def test_a_mrcc_hears_of_sightings_on_any_actual_distress_report(network: Network) -> None:
    red = distress_body(handling={"distribution": "agency", "tlp": "red"})
    record = await _publish(network, "distress-reports", red, "MY-MMEA")
    own = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    added = await network.http.post(
        f"/v1/distress-reports/{record}/sightings", json=sighting(), headers=own
    )
    seen = ("sighting.created", added.json()["id"])
    assert seen in await _feed_types(network, Role.VIEWER, "ID-BASARNAS")  # the SOLAS floor
    assert seen not in await _feed_types(network, Role.VIEWER, "TH-MECC")


async def test_webhooks_deliver_sightings_to_readers_only(hooks: Hooks) -> None:
    network = hooks.network
    _sub, secret = await hooks.subscribe("MY-MMEA", event_types=["sighting.created"])
    await hooks.subscribe("TH-MECC", path="/thai", event_types=["sighting.created"])
    _far, far_secret = await hooks.subscribe(
        "MY-MRCC", path="/far", event_types=["*"], filter={"bbox": [100, 0, 110, 5]}
    )
    to_malaysia = handling("countries", recipient_countries=["MY"])
    record = await _publish(network, "alerts", alert_body(handling=to_malaysia), "BD-CG")
    reporter = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    added = await network.http.post(
        f"/v1/alerts/{record}/sightings", json=sighting(), headers=reporter
    )
    assert added.status_code == 201
    await hooks.pump()
    [delivery] = hooks.receiver.at("/hook")
    event = verify(secret, delivery)
    assert event["type"] == "sighting.created"
    assert event["data"] == added.json()
    assert hooks.receiver.at("/thai") == []  # TH cannot read the record
    assert hooks.receiver.at("/far") == []  # the sighting is outside its box (the alert too)
    near = sighting(position={"lat": 2.0, "lon": 104.0})
    moved = await network.http.post(f"/v1/alerts/{record}/sightings", json=near, headers=reporter)
    await hooks.pump()
    [far] = hooks.receiver.at("/far")
    assert verify(far_secret, far)["data"]["id"] == moved.json()["id"]
