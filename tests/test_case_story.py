"""One boat, four days, five agencies: the story of issue 16 walked through REST, the feed and
webhooks, on a clock the test moves (the dispatcher's, for deadlines) and with the times the
agencies report (what they saw, when).

BD-CG sees a trawler leave Teknaf; a Thai patrol aircraft and a fishing boat (reported to
MY-MMEA) sight it; MY-MMEA reports it in distress west of Aceh with MY-MRCC coordinating, who
hands over to BASARNAS when it drifts south; TH-MRCC's acknowledgement is overdue; BASARNAS
closes the case when the persons are rescued and reports their landing. BD-CG also
keeps an informant's note in the case, agency-only and TLP:RED: nobody else ever sees it.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.alerts import EXAMPLE as ALERT_EXAMPLE
from models.distress import EXAMPLE as DISTRESS_EXAMPLE
from models.enums import Role
from services.records import acks
from tests.hooks import Hooks
from tests.receiver import verify
from tests.support import Network, alert_body, distress_body, handling

CASE, MMSI = "BOB-2026-1123-07", "405000123"
START = datetime.now(UTC) - timedelta(days=4)
TRAWLER = {**ALERT_EXAMPLE["vessels"][0], "mmsi": MMSI}


def day(number: int, hour: int) -> str:
    return (START + timedelta(days=number - 1, hours=hour)).isoformat().replace("+00:00", "Z")


async def _as(network: Network, agency: str, role: Role = Role.DUTY_OFFICER) -> dict[str, str]:
    return await network.headers(role, agency)


async def _post(network: Network, path: str, body: dict[str, Any], agency: str) -> Any:
    answer = await network.http.post(path, json=body, headers=await _as(network, agency))
    assert answer.status_code in (200, 201), answer.text
    return answer


async def _feed_types(network: Network, agency: str) -> list[str]:
    headers = await _as(network, agency)
    events: list[str] = []
    after = "0"
    while True:
        page = (await network.http.get(f"/v1/feed?after={after}&limit=500", headers=headers)).json()
        events += [event["type"] for event in page["events"]]
        if not page["events"]:
            return events
        after = page["next_cursor"]


async def test_one_boat_four_days_five_agencies(
    network: Network, hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    basarnas_hook, secret = await hooks.subscribe("ID-BASARNAS", "/basarnas")

    # Day 1, 05:00: BD-CG sees the trawler leave Teknaf, and asks MY-MMEA and TH-MECC to
    # acknowledge within the hour.
    departure = alert_body(
        case_id=CASE,
        observed_at=day(1, 5),
        location={"lat": 20.85, "lon": 92.27},
        vessels=[TRAWLER],
        handling=handling(
            ack_required=True, ack_required_from=["MY-MMEA", "TH-MECC"], ack_due_minutes=60
        ),
    )
    alert = (await _post(network, "/v1/alerts", departure, "BD-CG")).json()
    assert "related" not in alert  # nothing earlier names this boat
    informant = alert_body(
        case_id=CASE,
        headline="Informant: organiser paid in Cox's Bazar",
        observed_at=day(1, 6),
        handling=handling("agency", tlp="red"),
    )
    secret_note = (await _post(network, "/v1/alerts", informant, "BD-CG")).json()

    # Day 1, 19:00 and day 2, 08:00: a Thai patrol aircraft, then a fishing boat (second hand,
    # through MY-MMEA) sight it heading south.
    for agency, hour, lat, lon, source in (
        ("TH-MECC", (1, 19), 15.2, 94.1, "aircraft"),
        ("MY-MMEA", (2, 8), 9.5, 95.8, "report"),
    ):
        sighting = {"observed_at": day(*hour), "position": {"lat": lat, "lon": lon}}
        await _post(
            network,
            f"/v1/alerts/{alert['id']}/sightings",
            {**sighting, "source": source, "persons_seen": 150},
            agency,
        )

    # Day 3, 04:00: adrift west of Aceh. MY-MMEA reports it, MY-MRCC coordinating; BASARNAS
    # and TH-MRCC must acknowledge within 30 minutes. The answer links the departure alert.
    position = {**DISTRESS_EXAMPLE["position"], "lat": 5.62, "lon": 94.41, "fix_time": day(3, 4)}
    report_body = distress_body(
        case_id=CASE,
        position=position,
        vessel={**DISTRESS_EXAMPLE["vessel"], "mmsi": MMSI},
        coordinating_rcc="MY-MRCC",
        handling=handling(
            ack_required=True,
            ack_required_from=["ID-BASARNAS", "TH-MRCC"],
            ack_due_minutes=30,
        ),
    )
    created = await _post(network, "/v1/distress-reports", report_body, "MY-MMEA")
    report = created.json()
    assert [item["id"] for item in report["related"]] == [alert["id"]]

    # The boat drifts into the Indonesian SRR: MY-MRCC hands coordination to BASARNAS.
    handover = await network.http.post(
        f"/v1/distress-reports/{report['id']}/coordination",
        json={"to": "ID-BASARNAS", "note": "drifted south into the Indonesian SRR"},
        headers={**await _as(network, "MY-MRCC"), "If-Match": created.headers["ETag"]},
    )
    assert handover.status_code == 200, handover.text
    assert handover.json()["coordinating_rcc"] == "ID-BASARNAS"
    # A stranger cannot take it: TH-MECC reads the report but does not coordinate it.
    taken = await network.http.post(
        f"/v1/distress-reports/{report['id']}/coordination",
        json={"to": "TH-MRCC"},
        headers=await _as(network, "TH-MECC"),
    )
    assert taken.status_code == 403, taken.text

    # BASARNAS acknowledges the report; of the departure alert's two, MY-MMEA does.
    await _post(network, f"/v1/distress-reports/{report['id']}/acks", {}, "ID-BASARNAS")
    await _post(network, f"/v1/alerts/{alert['id']}/acks", {}, "MY-MMEA")

    # Day 4: BASARNAS, now coordinating, closes the case and reports the landing.
    closed = await network.http.post(
        f"/v1/distress-reports/{report['id']}/close",
        json={"outcome": "rescued", "note": "178 persons rescued by KN SAR Kresna"},
        headers=await _as(network, "ID-BASARNAS"),
    )
    assert closed.status_code == 200, closed.text
    landing = alert_body(
        case_id=CASE,
        category="landing",
        headline="178 persons landed at Lhokseumawe",
        observed_at=day(4, 10),
        location={"lat": 5.18, "lon": 97.15},
        vessels=[TRAWLER],
        handling=handling(),
    )
    landed = (await _post(network, "/v1/alerts", landing, "ID-BASARNAS")).json()
    await hooks.pump()

    # The case as TH-MECC sees it: everything but BD-CG's agency-only note, in time order.
    seen = await network.http.get(f"/v1/cases/{CASE}", headers=await _as(network, "TH-MECC"))
    assert seen.status_code == 200, seen.text
    case = seen.json()
    assert [record["id"] for record in case["records"]] == [
        alert["id"],
        report["id"],
        landed["id"],
    ]
    assert len(case["sightings"]) == 2
    assert case["open_distress"] is False
    assert (case["last_position"]["lat"], case["last_position"]["lon"]) == (5.18, 97.15)
    # BD-CG, who wrote it, sees its note in the case; nobody else finds it anywhere.
    own = await network.http.get(f"/v1/cases/{CASE}", headers=await _as(network, "BD-CG"))
    assert secret_note["id"] in [record["id"] for record in own.json()["records"]]
    assert secret_note["id"] not in seen.text

    # The boat's track, as MY-MMEA may read it: departure, both sightings, the distress
    # fix, the landing, in the order they happened.
    vessel = await network.http.get(
        f"/v1/vessels/mmsi:{MMSI}", headers=await _as(network, "MY-MMEA")
    )
    track = vessel.json()["track"]["coordinates"]
    assert [round(lat, 2) for _lon, lat in track] == [20.85, 15.2, 9.5, 5.62, 5.18]

    # BASARNAS's webhook heard the whole story, every delivery signed.
    got = [verify(secret, delivery)["type"] for delivery in hooks.receiver.at("/basarnas")]
    for wanted in (
        "alert.created",
        "sighting.created",
        "distress.created",
        "distress.coordination_changed",
        "distress.closed",
    ):
        assert wanted in got, (wanted, got)
    assert got.count("alert.created") == 2  # the departure and the landing, not the note
    assert basarnas_hook

    # An hour on, TH-MECC has still not acknowledged the departure: one notice, to BD-CG and
    # TH-MECC only (the acks answer reads the test clock too).
    monkeypatch.setattr(acks, "utcnow", hooks.clock)
    hooks.clock.advance(61 * 60)
    await hooks.pump()
    url = f"/v1/alerts/{alert['id']}/acks"
    state = (await network.http.get(url, headers=await _as(network, "BD-CG"))).json()
    assert (state["pending"], state["overdue"]) == (["TH-MECC"], True)
    for agency, told in (("BD-CG", 1), ("TH-MECC", 1), ("MY-MMEA", 0), ("ID-BASARNAS", 0)):
        assert (await _feed_types(network, agency)).count("alert.ack_overdue") == told, agency
    # the report was closed before its deadline passed: nothing is overdue there
    report_acks = f"/v1/distress-reports/{report['id']}/acks"
    state = (await network.http.get(report_acks, headers=await _as(network, "MY-MMEA"))).json()
    assert (state["pending"], state["overdue"]) == (["TH-MRCC"], False)
