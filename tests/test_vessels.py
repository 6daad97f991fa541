"""Vessels by identity: links kept with the current version, `related[]`, the vessel view and
its track, and the list filters, through real HTTP."""

from datetime import timedelta
from typing import Any

import pytest

from core.clock import iso, utcnow
from models.enums import Role
from tests.support import Network, alert_body, distress_body, handling

MMSI, OTHER_MMSI, IMO = "533123456", "525000111", "9074729"
NETWORK = handling("network")


def boat(**fields: Any) -> dict[str, Any]:
    return {"vessel_type": "wooden boat", **fields}


async def _post(network: Network, path: str, body: dict[str, Any], agency: str = "BD-CG") -> Any:
    duty = await network.headers(Role.DUTY_OFFICER, agency)
    response = await network.http.post(f"/v1/{path}", json=body, headers=duty)
    assert response.status_code == 201, response.text
    return response.json()


async def _get(network: Network, url: str, agency: str = "TH-MECC") -> Any:
    return await network.http.get(url, headers=await network.headers(Role.VIEWER, agency))


async def test_related_names_earlier_readable_records_of_the_same_vessel(network: Network) -> None:
    first = await _post(network, "alerts", alert_body(handling=NETWORK, vessels=[boat(mmsi=MMSI)]))
    assert "related" not in first  # nothing earlier
    unrelated = await _post(
        network, "alerts", alert_body(handling=NETWORK, vessels=[boat(mmsi=OTHER_MMSI)])
    )
    report = await _post(
        network,
        "distress-reports",
        distress_body(handling=NETWORK, vessel=boat(mmsi=MMSI, call_sign="hs 2345")),
        "MY-MMEA",
    )
    assert report["related"] == [{"id": first["id"], "kind": "alert", "matched": [f"mmsi:{MMSI}"]}]
    assert unrelated["id"] not in str(report["related"])
    # an update answers with what is related to its new identifiers
    changed = await network.http.patch(
        f"/v1/alerts/{unrelated['id']}",
        json={"vessels": [boat(mmsi=MMSI, call_sign="HS-2345")]},
        headers=await network.headers(Role.DUTY_OFFICER, "BD-CG"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["related"] == [
        {"id": first["id"], "kind": "alert", "matched": [f"mmsi:{MMSI}"]}
    ]  # the report came later: not "earlier"
    again = await _get(network, f"/v1/alerts/{unrelated['id']}")
    assert "related" not in again.json()  # per reader, never stored


async def test_links_follow_the_current_version(network: Network) -> None:
    alert = await _post(network, "alerts", alert_body(handling=NETWORK, vessels=[boat(mmsi=MMSI)]))
    listed = await _get(network, f"/v1/alerts?mmsi={MMSI}")
    assert [a["id"] for a in listed.json()["items"]] == [alert["id"]]
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    patched = await network.http.patch(
        f"/v1/alerts/{alert['id']}", json={"vessels": [boat(imo=IMO)]}, headers=duty
    )
    assert patched.status_code == 200, patched.text
    assert (await _get(network, f"/v1/alerts?mmsi={MMSI}")).json()["items"] == []
    assert (await _get(network, f"/v1/vessels/mmsi:{MMSI}")).status_code == 404
    by_imo = await _get(network, f"/v1/alerts?imo={IMO}")
    assert [a["version"] for a in by_imo.json()["items"]] == [2]


async def test_list_filters_by_vessel_and_case(network: Network) -> None:
    named = await _post(
        network,
        "alerts",
        alert_body(handling=NETWORK, case_id="C-1", vessels=[boat(mmsi=MMSI, call_sign="9mab2")]),
    )
    await _post(network, "alerts", alert_body(handling=NETWORK, case_id="C-2"))
    other = await _post(
        network, "alerts", alert_body(handling=NETWORK, vessels=[boat(mmsi=OTHER_MMSI)])
    )
    cases = [
        (f"mmsi={MMSI}", [named["id"]]),
        ("call_sign=9M-AB2", [named["id"]]),
        (f"mmsi={MMSI}&call_sign=9MAB2", [named["id"]]),
        (f"mmsi={OTHER_MMSI}&call_sign=9MAB2", []),
        ("case_id=C-1", [named["id"]]),
        (f"case_id=C-1&mmsi={OTHER_MMSI}", []),
        (f"mmsi={OTHER_MMSI}", [other["id"]]),
        (f"imo={IMO}", []),
    ]
    for query, ids in cases:
        listed = await _get(network, f"/v1/alerts?{query}")
        assert listed.status_code == 200, (query, listed.text)
        assert [a["id"] for a in listed.json()["items"]] == ids, query
        geo = await _get(network, f"/v1/geo/alerts?{query}")
        assert [f["id"] for f in geo.json()["features"]] == ids, query


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("mmsi=12345", "query.mmsi"),
        ("imo=9074720", "query.imo"),  # wrong check digit
        ("imo=abc", "query.imo"),
        ("call_sign=H%C3%89LLO", "query.call_sign"),
        ("case_id=a%20b", "query.case_id"),
        ("vessel_mmsi=533123456", "query.vessel_mmsi"),
    ],
)
async def test_bad_filters_name_the_parameter(network: Network, query: str, field: str) -> None:
    response = await _get(network, f"/v1/distress-reports?{query}")
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


@pytest.mark.parametrize(
    "key",
    [
        "533123456",
        "mmsi:12345",
        "mmsi:53312345a",
        "imo:9074720",
        "imo:907472",
        "callsign:",
        "callsign:H%C3%89",
        "hull:533123456",
        "MMSI",
    ],
)
async def test_a_malformed_vessel_key_is_a_422_naming_it(network: Network, key: str) -> None:
    response = await _get(network, f"/v1/vessels/{key}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["path.key"]


async def test_the_vessel_view_and_its_track(network: Network) -> None:
    day = utcnow() - timedelta(days=2)
    alert = await _post(
        network,
        "alerts",
        alert_body(
            handling=NETWORK,
            observed_at=iso(day),
            location={"lat": 21.0, "lon": 92.2},
            vessels=[boat(mmsi=MMSI)],
        ),
    )
    position = {"lat": 6.0, "lon": 94.0, "fix_time": iso(day + timedelta(days=1))}
    report = await _post(
        network,
        "distress-reports",
        distress_body(handling=NETWORK, position=position, vessel=boat(mmsi=MMSI)),
        "MY-MMEA",
    )
    thai = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    seen = {
        "observed_at": iso(day + timedelta(hours=12)),
        "position": {"lat": 12.0, "lon": 95.0},
        "source": "aircraft",
    }
    sighted = await network.http.post(
        f"/v1/alerts/{alert['id']}/sightings", json=seen, headers=thai
    )
    assert sighted.status_code == 201
    moved = {"position": {**position, "lat": 5.5, "fix_time": iso(day + timedelta(hours=30))}}
    duty = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    url = f"/v1/distress-reports/{report['id']}"
    assert (await network.http.patch(url, json=moved, headers=duty)).status_code == 200
    view = await _get(network, f"/v1/vessels/MMSI:{MMSI}")
    assert view.status_code == 200, view.text
    doc = view.json()
    assert doc["key"] == f"mmsi:{MMSI}"
    assert [r["id"] for r in doc["items"]] == [report["id"], alert["id"]]  # newest first
    assert doc["items"][0]["version"] == 2
    assert doc["track"] == {
        "type": "LineString",
        "coordinates": [[92.2, 21.0], [95.0, 12.0], [94.0, 6.0], [94.0, 5.5]],
    }
    assert [p["source"] for p in doc["positions"]] == ["alert", "sighting", "distress", "distress"]
    page = await _get(network, f"/v1/vessels/mmsi:{MMSI}?limit=1")
    assert [r["id"] for r in page.json()["items"]] == [report["id"]]
    rest = await _get(
        network, f"/v1/vessels/mmsi:{MMSI}?limit=1&cursor={page.json()['next_cursor']}"
    )
    assert [r["id"] for r in rest.json()["items"]] == [alert["id"]]
    assert rest.json()["next_cursor"] is None
    assert (await _get(network, f"/v1/vessels/mmsi:{OTHER_MMSI}")).status_code == 404


async def test_a_call_sign_is_found_however_it_was_written(network: Network) -> None:
    alert = await _post(
        network, "alerts", alert_body(handling=NETWORK, vessels=[boat(call_sign="hs-2345 ")])
    )
    for key in ("callsign:HS2345", "callsign:hs-2345", "CALLSIGN:Hs2345"):
        view = await _get(network, f"/v1/vessels/{key}")
        assert view.status_code == 200, (key, view.text)
        assert [r["id"] for r in view.json()["items"]] == [alert["id"]]
        assert view.json()["track"] is None  # one position is no line


async def test_a_replayed_post_answers_with_its_related_records(network: Network) -> None:
    first = await _post(network, "alerts", alert_body(handling=NETWORK, vessels=[boat(imo=IMO)]))
    duty = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    body = distress_body(handling=NETWORK, vessel=boat(imo=IMO))
    headers = {**duty, "Idempotency-Key": "sitrep-1"}
    sent = await network.http.post("/v1/distress-reports", json=body, headers=headers)
    again = await network.http.post("/v1/distress-reports", json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    expected = [{"id": first["id"], "kind": "alert", "matched": [f"imo:{IMO}"]}]
    assert sent.json()["related"] == again.json()["related"] == expected


async def test_related_keeps_exercise_and_actual_traffic_apart(network: Network) -> None:
    """An exercise naming a real boat's MMSI is no correlation for an actual report, nor the
    reverse: cases and vessel views keep the statuses apart, and `related` did not."""
    drill = await _post(
        network,
        "alerts",
        alert_body(status="exercise", handling=NETWORK, vessels=[boat(mmsi=MMSI)]),
    )
    real = await _post(network, "alerts", alert_body(handling=NETWORK, vessels=[boat(mmsi=MMSI)]))
    assert "related" not in real, real.get("related")
    again = await _post(
        network,
        "alerts",
        alert_body(status="exercise", handling=NETWORK, vessels=[boat(mmsi=MMSI)]),
    )
    assert again["related"] == [{"id": drill["id"], "kind": "alert", "matched": [f"mmsi:{MMSI}"]}]


async def test_a_replayed_post_is_related_only_to_what_came_before_it(network: Network) -> None:
    """A retry returns the first result: records published after the first POST are not
    "earlier" records, however late the retry comes."""
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=NETWORK, vessels=[boat(mmsi=MMSI)])
    headers = {**duty, "Idempotency-Key": "first-sighting"}
    sent = await network.http.post("/v1/alerts", json=body, headers=headers)
    assert sent.status_code == 201, sent.text
    assert "related" not in sent.json()
    await _post(network, "alerts", alert_body(handling=NETWORK, vessels=[boat(mmsi=MMSI)]))
    again = await network.http.post("/v1/alerts", json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert "related" not in again.json(), again.json()["related"]
