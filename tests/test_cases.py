"""Cases through real HTTP, and the visibility matrix extended to cases, vessels and
sightings: none of them ever shows a record (or its sighting) its caller cannot read."""

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from core.clock import iso, utcnow
from models.enums import Role
from models.tables import RECORD
from services.records import cases as cases_service
from tests.support import Network, alert_body, distress_body, handling

MMSI = "533123456"
NETWORK = handling("network")
RED = {"distribution": "agency", "tlp": "red"}
SECRET = "informant Rahim on the beach"  # text only the red alert holds


async def _post(network: Network, path: str, body: dict[str, Any], agency: str) -> Any:
    duty = await network.headers(Role.DUTY_OFFICER, agency)
    response = await network.http.post(f"/v1/{path}", json=body, headers=duty)
    assert response.status_code == 201, response.text
    return response.json()


async def _sight(network: Network, path: str, record: str, agency: str, **body: Any) -> Any:
    duty = await network.headers(Role.DUTY_OFFICER, agency)
    url = f"/v1/{path}/{record}/sightings"
    response = await network.http.post(url, json={"source": "vessel", **body}, headers=duty)
    assert response.status_code == 201, response.text
    return response.json()


async def _get(network: Network, url: str, agency: str, role: Role = Role.VIEWER) -> Any:
    return await network.http.get(url, headers=await network.headers(role, agency))


def _ago(hours: float) -> str:
    return iso(utcnow() - timedelta(hours=hours))


async def test_a_case_brings_its_records_together(network: Network) -> None:
    boat = {"vessel_type": "wooden boat", "mmsi": MMSI}
    departure = await _post(
        network,
        "alerts",
        alert_body(handling=NETWORK, case_id="BDCG-7", vessels=[boat], observed_at=_ago(72)),
        "BD-CG",
    )
    seen = await _sight(
        network,
        "alerts",
        departure["id"],
        "TH-MECC",
        observed_at=_ago(48),
        position={"lat": 9.0, "lon": 95.0},
    )
    fix = {"lat": 5.6, "lon": 94.4, "fix_time": _ago(24)}
    report = await _post(
        network,
        "distress-reports",
        distress_body(handling=NETWORK, case_id="BDCG-7", vessel=boat, position=fix),
        "MY-MMEA",
    )
    await _post(network, "alerts", alert_body(handling=NETWORK, case_id="OTHER"), "BD-CG")
    view = await _get(network, "/v1/cases/BDCG-7", "TH-MECC")
    assert view.status_code == 200, view.text
    case = view.json()
    assert case["case_id"] == "BDCG-7"
    assert [(r["id"], r["kind"], r["version"]) for r in case["records"]] == [
        (departure["id"], "alert", 1),
        (report["id"], "distress", 1),
    ]
    assert [s["id"] for s in case["sightings"]] == [seen["id"]]
    assert case["vessels"] == [
        {
            "keys": [f"mmsi:{MMSI}"],
            "vessel": report["vessel"],
            "named_by": [departure["id"], report["id"]],
        }
    ]
    assert case["last_position"]["source"] == "distress"
    assert (case["last_position"]["lat"], case["last_position"]["lon"]) == (5.6, 94.4)
    assert case["open_distress"] is True
    closed = await network.http.post(
        f"/v1/distress-reports/{report['id']}/close",
        json={"outcome": "rescued"},
        headers=await network.headers(Role.DUTY_OFFICER, "MY-MMEA"),
    )
    assert closed.status_code == 200
    case = (await _get(network, "/v1/cases/BDCG-7", "TH-MECC")).json()
    assert case["open_distress"] is False
    assert case["records"][1]["version"] == 2
    assert (await _get(network, "/v1/cases/NOBODY", "TH-MECC")).status_code == 404
    slashed = alert_body(handling=NETWORK, case_id="ID/BASARNAS/2026/11")
    await _post(network, "alerts", slashed, "BD-CG")
    by_slashes = await _get(network, "/v1/cases/ID/BASARNAS/2026/11", "TH-MECC")
    assert by_slashes.json()["case_id"] == "ID/BASARNAS/2026/11"
    listed = await _get(network, "/v1/alerts?case_id=BDCG-7", "TH-MECC")
    assert [a["id"] for a in listed.json()["items"]] == [departure["id"]]


async def test_the_list_of_cases(network: Network) -> None:
    first = alert_body(handling=NETWORK, case_id="A-1", vessels=[{"mmsi": MMSI}])
    await _post(network, "alerts", first, "BD-CG")
    await _post(network, "alerts", alert_body(handling=NETWORK, case_id="B-2"), "BD-CG")
    since = iso(utcnow())
    report = distress_body(handling=NETWORK, case_id="A-1")
    await _post(network, "distress-reports", report, "MY-MMEA")  # A-1 joined again: first
    await _post(network, "alerts", alert_body(handling=NETWORK, case_id=None), "BD-CG")
    exercise = alert_body(handling=NETWORK, case_id="EX-1", status="exercise")
    await _post(network, "alerts", exercise, "BD-CG")
    listed = (await _get(network, "/v1/cases", "TH-MECC")).json()
    assert [
        (c["case_id"], c["records"], c["kinds"], c["open_distress"]) for c in listed["items"]
    ] == [
        ("A-1", 2, ["alert", "distress"], True),
        ("B-2", 1, ["alert"], False),
    ]
    assert listed["items"][0]["updated_at"].endswith("Z")
    page = (await _get(network, "/v1/cases?limit=1", "TH-MECC")).json()
    assert [c["case_id"] for c in page["items"]] == ["A-1"]
    rest = (
        await _get(network, f"/v1/cases?limit=1&cursor={page['next_cursor']}", "TH-MECC")
    ).json()
    assert [c["case_id"] for c in rest["items"]] == ["B-2"]
    assert rest["next_cursor"] is None
    by_vessel = (await _get(network, f"/v1/cases?vessel=mmsi:{MMSI}", "TH-MECC")).json()
    assert [(c["case_id"], c["records"]) for c in by_vessel["items"]] == [("A-1", 2)]
    recent = (await _get(network, f"/v1/cases?updated_since={since}", "TH-MECC")).json()
    assert [c["case_id"] for c in recent["items"]] == ["A-1"]
    exercises = (await _get(network, "/v1/cases?status=exercise", "TH-MECC")).json()
    assert [c["case_id"] for c in exercises["items"]] == ["EX-1"]
    for query, field in (
        ("vessel=mmsi:1", "query.vessel"),
        ("cursor=zz", "cursor"),
        ("case=A-1", "query.case"),
    ):
        bad = await _get(network, f"/v1/cases?{query}", "TH-MECC")
        assert bad.status_code == 422, query
        assert field in [e["field"] for e in bad.json()["errors"]]


async def test_reading_a_case_needs_a_read_scope_and_shows_only_those_kinds(
    network: Network,
) -> None:
    await _post(network, "alerts", alert_body(handling=NETWORK, case_id="K-1"), "BD-CG")
    report = distress_body(handling=NETWORK, case_id="K-1")
    await _post(network, "distress-reports", report, "MY-MMEA")
    alerts_only = network.role(Role.VIEWER, "TH-MECC")
    token = await network.token(alerts_only, scope="alerts:read")
    headers = {"Authorization": f"Bearer {token}"}
    case = (await network.http.get("/v1/cases/K-1", headers=headers)).json()
    assert [r["kind"] for r in case["records"]] == ["alert"]
    assert case["open_distress"] is False
    listed = (await network.http.get("/v1/cases", headers=headers)).json()
    assert [(c["case_id"], c["kinds"]) for c in listed["items"]] == [("K-1", ["alert"])]
    for url in ("/v1/cases", "/v1/cases/K-1", f"/v1/vessels/mmsi:{MMSI}"):
        refused = await _get(network, url, "TH-MECC", Role.AUDITOR)
        assert refused.status_code == 403, url
        assert "insufficient_scope" in refused.headers["www-authenticate"]


async def test_nothing_shows_a_record_its_caller_cannot_read(network: Network) -> None:
    """A red agency-only alert in the same case, naming the same MMSI as a network alert, with
    a sighting of its own: another agency sees none of it anywhere."""
    boat = {"mmsi": MMSI, "name": "KM Hidden"}
    red = await _post(
        network,
        "alerts",
        alert_body(
            handling=RED,
            case_id="MIX-1",
            vessels=[boat],
            description=SECRET,
            location={"lat": 1.0, "lon": 101.0},
            observed_at=_ago(1),
        ),
        "BD-CG",
    )
    red_sighting = await _sight(
        network,
        "alerts",
        red["id"],
        "BD-CG",
        observed_at=_ago(0.5),
        position={"lat": 1.5, "lon": 101.5},
    )
    shared = await _post(
        network,
        "alerts",
        alert_body(
            handling=NETWORK, case_id="MIX-1", vessels=[{"mmsi": MMSI}], observed_at=_ago(5)
        ),
        "MY-MMEA",
    )
    only_red = alert_body(handling=RED, case_id="RED-ONLY", vessels=[{"mmsi": "111111111"}])
    await _post(network, "alerts", only_red, "BD-CG")
    later = await _post(
        network,
        "alerts",
        alert_body(handling=NETWORK, case_id=None, vessels=[{"mmsi": MMSI}]),
        "TH-MECC",
    )
    assert later["related"] == [{"id": shared["id"], "kind": "alert", "matched": [f"mmsi:{MMSI}"]}]
    answers = [
        await _get(network, "/v1/cases/MIX-1", "TH-MECC"),
        await _get(network, "/v1/cases", "TH-MECC"),
        await _get(network, f"/v1/cases?vessel=mmsi:{MMSI}", "TH-MECC"),
        await _get(network, f"/v1/vessels/mmsi:{MMSI}", "TH-MECC"),
        await _get(network, f"/v1/alerts?mmsi={MMSI}", "TH-MECC"),
        await _get(network, "/v1/alerts?case_id=MIX-1", "TH-MECC"),
        await _get(network, f"/v1/alerts/{shared['id']}/sightings", "TH-MECC"),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        for hidden in (red["id"], red_sighting["id"], SECRET, "KM Hidden", "101.5", "RED-ONLY"):
            assert hidden not in answer.text, (answer.url, hidden)
    case = answers[0].json()
    assert [r["id"] for r in case["records"]] == [shared["id"]]
    assert case["sightings"] == []
    assert case["vessels"][0]["named_by"] == [shared["id"]]
    assert case["last_position"]["id"] == shared["id"]
    assert [(c["case_id"], c["records"]) for c in answers[2].json()["items"]] == [("MIX-1", 1)]
    vessel = answers[3].json()
    assert [r["id"] for r in vessel["items"]] == [later["id"], shared["id"]]
    assert {p["record_id"] for p in vessel["positions"]} == {later["id"], shared["id"]}
    for url in ("/v1/cases/RED-ONLY", "/v1/vessels/mmsi:111111111"):
        hidden = await _get(network, url, "TH-MECC")
        assert hidden.status_code == 404, url
        assert red["id"] not in hidden.text
    # the sender sees it all
    own = (await _get(network, "/v1/cases/MIX-1", "BD-CG")).json()
    assert [r["id"] for r in own["records"]] == [red["id"], shared["id"]]
    assert [s["id"] for s in own["sightings"]] == [red_sighting["id"]]
    assert own["last_position"]["id"] == red_sighting["id"]
    track = (await _get(network, f"/v1/vessels/mmsi:{MMSI}", "BD-CG")).json()["track"]
    assert [101.5, 1.5] in track["coordinates"]


async def test_a_track_leaves_out_versions_sent_more_narrowly(network: Network) -> None:
    """History obeys each version's handling: a red first position never enters the track."""
    first = alert_body(
        handling=RED,
        vessels=[{"mmsi": MMSI}],
        location={"lat": 1.0, "lon": 101.0},
        observed_at=_ago(3),
    )
    alert = await _post(network, "alerts", first, "BD-CG")
    widened = {"handling": NETWORK, "location": {"lat": 2.0, "lon": 102.0}, "observed_at": _ago(2)}
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    patched = await network.http.patch(f"/v1/alerts/{alert['id']}", json=widened, headers=duty)
    assert patched.status_code == 200
    seen = await _sight(
        network,
        "alerts",
        alert["id"],
        "TH-MECC",
        observed_at=_ago(1),
        position={"lat": 3.0, "lon": 103.0},
    )
    assert seen["record_id"] == alert["id"]
    other = (await _get(network, f"/v1/vessels/mmsi:{MMSI}", "TH-MECC")).json()
    assert other["track"]["coordinates"] == [[102.0, 2.0], [103.0, 3.0]]
    own = (await _get(network, f"/v1/vessels/mmsi:{MMSI}", "BD-CG")).json()
    assert own["track"]["coordinates"] == [[101.0, 1.0], [102.0, 2.0], [103.0, 3.0]]


async def test_case_pages_walk_records_in_small_steps(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages come out whole and in order however few records one step of the walk reads."""
    monkeypatch.setattr(cases_service, "WALK", 2)
    order = ["A", "B", "C", "A", "D", "E", "B"]  # keys: B 7, E 6, D 5, A 4, C 3
    for case in order:
        body = alert_body(handling=NETWORK, case_id=f"W-{case}")
        await _post(network, "alerts", body, "BD-CG")
    red = alert_body(handling=RED, case_id="W-C")  # after all, but not TH-MECC's to read
    await _post(network, "alerts", red, "BD-CG")
    seen: list[list[str]] = []
    cursor = ""
    while True:
        url = "/v1/cases?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await _get(network, url, "TH-MECC")).json()
        seen.append([c["case_id"] for c in page["items"]])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == [["W-B", "W-E"], ["W-D", "W-A"], ["W-C"]]
    own = (await _get(network, "/v1/cases?limit=1", "BD-CG")).json()
    assert [c["case_id"] for c in own["items"]] == ["W-C"]  # its red record joined last


async def test_a_boat_named_by_two_keys_is_one_vessel(network: Network) -> None:
    """One record gives the boat's MMSI, another its IMO, a third both: one boat. The third
    joined the first's entry and left the second's beside it, so the case showed the boat
    twice, once under the IMO alone."""
    imo = "9074729"
    ids = []
    for vessel in ({"mmsi": MMSI}, {"imo": imo}, {"mmsi": MMSI, "imo": imo}):
        body = alert_body(handling=NETWORK, case_id="TWO-KEYS", vessels=[vessel])
        ids.append((await _post(network, "alerts", body, "BD-CG"))["id"])
    view = await _get(network, "/v1/cases/TWO-KEYS", "TH-MECC")
    assert view.status_code == 200, view.text
    [vessel] = view.json()["vessels"]
    assert vessel["keys"] == [f"imo:{imo}", f"mmsi:{MMSI}"]
    assert vessel["named_by"] == ids
    assert (vessel["vessel"]["mmsi"], vessel["vessel"]["imo"]) == (MMSI, imo)


@pytest.mark.parametrize("case_id", [".", "..", "BDCG/../MY-7", "BDCG/./7", "BDCG/.."])
async def test_a_case_id_a_client_cannot_ask_for_is_refused(network: Network, case_id: str) -> None:
    """`GET /v1/cases/{case_id}` takes slashes, and every HTTP client removes `.` and `..`
    segments from a path before sending it (RFC 3986 §5.2.4): `/v1/cases/BDCG/../MY-7` arrives
    as `/v1/cases/MY-7`, another case, and `/v1/cases/.` as the case list. A case id holding
    such a segment could never be asked for, so it is a 422 naming `case_id` when written."""
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=NETWORK, case_id=case_id)
    response = await network.http.post("/v1/alerts", json=body, headers=duty)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["case_id"]


async def test_a_place_with_no_time_is_never_the_last_position(network: Network) -> None:
    """An alert without `observed_at` gives a place (a departure beach, a broker's town), not
    a fix: its position has no age (`position_age_seconds` is null). It was drawn at its
    `updated_at`, so it outranked a distress report's fix of ten minutes ago, and cancelling
    it made the departure beach the case's last position again."""
    departure = alert_body(handling=NETWORK, case_id="NO-TIME", location={"lat": 21.4, "lon": 92.0})
    departure.pop("observed_at")
    alert = await _post(network, "alerts", departure, "BD-CG")
    assert alert["position_age_seconds"] is None
    fix = {"lat": 6.0, "lon": 95.0, "fix_time": _ago(1 / 6)}
    body = distress_body(handling=NETWORK, case_id="NO-TIME", position=fix)
    report = await _post(network, "distress-reports", body, "MY-MMEA")
    case = (await _get(network, "/v1/cases/NO-TIME", "TH-MECC")).json()
    assert case["last_position"]["id"] == report["id"]
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    url = f"/v1/alerts/{alert['id']}/cancel"
    cancelled = await network.http.post(url, json={"reason": "duplicate"}, headers=duty)
    assert cancelled.status_code == 200, cancelled.text
    case = (await _get(network, "/v1/cases/NO-TIME", "TH-MECC")).json()
    assert case["last_position"]["id"] == report["id"]
    # with nothing timed in the case, the place is all there is
    lone = alert_body(handling=NETWORK, case_id="ONLY-PLACE")
    lone.pop("observed_at")
    only = await _post(network, "alerts", lone, "BD-CG")
    case = (await _get(network, "/v1/cases/ONLY-PLACE", "TH-MECC")).json()
    assert case["last_position"]["id"] == only["id"]


async def test_a_record_stored_with_an_unaskable_case_id_still_changes(network: Network) -> None:
    """The rule above applies to a case id being written. A record stored with such an id
    before the rule (re-checked whole on every change) once answered a PATCH of another
    field with a 422 on `case_id`, and a cancel with a 500; a change to another such id is
    still refused."""
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    alert = await _post(network, "alerts", alert_body(handling=NETWORK, case_id="OLD"), "BD-CG")
    legacy = "BDCG/../MY-7"

    def stored_before_the_rule(session: Session) -> None:
        doc = {**alert, "case_id": legacy}
        session.connection().execute(
            RECORD.update()
            .where(RECORD.c.id == alert["id"])
            .values(doc=json.dumps(doc), case_id=legacy)
        )

    network.db.run_write(stored_before_the_rule)
    url = f"/v1/alerts/{alert['id']}"
    patched = await network.http.patch(url, json={"severity": "extreme"}, headers=duty)
    assert patched.status_code == 200, patched.text
    assert patched.json()["case_id"] == legacy
    moved = await network.http.patch(url, json={"case_id": "OTHER/./X"}, headers=duty)
    assert moved.status_code == 422, moved.text
    assert [e["field"] for e in moved.json()["errors"]] == ["case_id"]
    cancelled = await network.http.post(f"{url}/cancel", json={"reason": "dup"}, headers=duty)
    assert cancelled.status_code == 200, cancelled.text
