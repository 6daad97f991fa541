"""Bad input: each a 422 problem naming the field, and nothing written."""

from typing import Any

import pytest

from models.enums import Role
from models.shapes import imo_check_digit_ok
from tests.support import Network, alert_body, distress_body, handling


def _vessel(**fields: Any) -> list[dict[str, Any]]:
    return [{"vessel_type": "trawler", **fields}]


ALERT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("latitude out of range", {"location": {"lat": 91, "lon": 92}}, "location.lat"),
    ("longitude out of range", {"location": {"lat": 10, "lon": 181}}, "location.lon"),
    ("mmsi of 8 digits", {"vessels": _vessel(mmsi="12345678")}, "vessels.0.mmsi"),
    ("imo with a wrong check digit", {"vessels": _vessel(imo="9074728")}, "vessels.0.imo"),
    ("vessel without identity", {"vessels": _vessel(length_m=12)}, "vessels.0"),
    ("flag not a country code", {"vessels": _vessel(name="X", flag="Thai")}, "vessels.0.flag"),
    ("min above estimate", {"persons": {"estimate": 10, "min": 20}}, "persons"),
    ("naive timestamp", {"observed_at": "2026-11-23T18:40:00"}, "observed_at"),
    # pydantic alone reads numbers, and strings of digits, as Unix seconds
    ("time as a number", {"expires_at": 0}, "expires_at"),
    ("time as digits", {"observed_at": "1700000000"}, "observed_at"),
    ("time without seconds", {"observed_at": "2026-11-23T18:40Z"}, "observed_at"),
    # and numbers from booleans and strings
    ("head count as a boolean", {"persons": {"estimate": 10, "min": False}}, "persons.min"),
    ("head count as text", {"persons": {"estimate": "10"}}, "persons.estimate"),
    ("latitude as text", {"location": {"lat": "10", "lon": 92}}, "location.lat"),
    ("length as a boolean", {"vessels": _vessel(name="X", length_m=True)}, "vessels.0.length_m"),
    ("unknown field", {"priority": "high"}, "priority"),
    ("unknown category", {"category": "piracy"}, "category"),
    ("headline too long", {"headline": "x" * 161}, "headline"),
    ("empty headline", {"headline": ""}, "headline"),
    ("countries without recipients", {"handling": handling("countries")}, "handling"),
    (
        "recipients without countries",
        {"handling": handling("national", recipient_countries=["MY"])},
        "handling",
    ),
    (
        "unknown recipient country",
        {"handling": handling("countries", recipient_countries=["ZZ"])},
        "handling.recipient_countries",
    ),
    (
        "unknown recipient agency",
        {"handling": handling("network", recipient_agencies=["XX-NONE"])},
        "handling.recipient_agencies",
    ),
    ("unknown tlp", {"handling": handling("network", tlp="purple")}, "handling.tlp"),
    (
        "ack_required as a number",
        {"handling": handling("network", ack_required=0)},
        "handling.ack_required",
    ),
    (
        "polygon not closed",
        {"area": {"type": "Polygon", "coordinates": [[[92, 21], [93, 21], [93, 22], [92, 22]]]}},
        "area.coordinates",
    ),
    ("missing location", {"location": None}, "location"),
]


@pytest.mark.parametrize(
    ("body_changes", "field"), [(c[1], c[2]) for c in ALERT_CASES], ids=[c[0] for c in ALERT_CASES]
)
async def test_bad_alerts_are_422_and_not_written(
    network: Network, body_changes: dict[str, Any], field: str
) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(**body_changes)
    body = {k: v for k, v in body.items() if v is not None}
    response = await network.http.post("/v1/alerts", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    listed = await network.http.get("/v1/alerts?status=actual", headers=headers)
    assert listed.json()["items"] == []


DISTRESS_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("no position", {"position": None}, "position"),
    ("position without fix time", {"position": {"lat": 5, "lon": 94}}, "position.fix_time"),
    ("no persons on board", {"persons_on_board": None}, "persons_on_board"),
    (
        "more children than aboard",
        {"persons_on_board": {"estimate": 10, "children": 20}},
        "persons_on_board",
    ),
    ("unknown coordinating RCC", {"coordinating_rcc": "XX-RCC"}, "coordinating_rcc"),
    ("unknown nature", {"nature_of_distress": ["bored"]}, "nature_of_distress.0"),
    ("sitrep number set by client", {"sitrep_number": 7}, "sitrep_number"),
    ("outcome set on create", {"outcome": "rescued"}, "outcome"),
    ("expiry as a number", {"expires_at": 0}, "expires_at"),
    (
        "deceased as a boolean",
        {"persons_on_board": {"estimate": 10, "deceased": False}},
        "persons_on_board.deceased",
    ),
    (
        "estimate as a string",
        {"persons_on_board": {"estimate": "10"}},
        "persons_on_board.estimate",
    ),
    (
        "estimate with a fraction",
        {"persons_on_board": {"estimate": 10.5}},
        "persons_on_board.estimate",
    ),
]


async def test_a_whole_number_written_with_a_point_is_an_integer(network: Network) -> None:
    """JSON has one kind of number, and JSON Schema's `integer` takes 190.0: so does the API."""
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = distress_body(persons_on_board={"estimate": 190.0, "injured": 4.0, "min": 150})
    response = await network.http.post("/v1/distress-reports", json=body, headers=headers)
    assert response.status_code == 201, response.text
    persons = response.json()["persons_on_board"]
    assert (persons["estimate"], persons["injured"], persons["min"]) == (190, 4, 150)
    assert isinstance(persons["estimate"], int)


@pytest.mark.parametrize(
    ("body_changes", "field"),
    [(c[1], c[2]) for c in DISTRESS_CASES],
    ids=[c[0] for c in DISTRESS_CASES],
)
async def test_bad_distress_reports_are_422_and_not_written(
    network: Network, body_changes: dict[str, Any], field: str
) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = {k: v for k, v in distress_body(**body_changes).items() if v is not None}
    response = await network.http.post("/v1/distress-reports", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    listed = await network.http.get("/v1/distress-reports", headers=headers)
    assert listed.json()["items"] == []


async def test_bad_patch_writes_nothing(network: Network) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    doc = (await network.http.post("/v1/alerts", json=alert_body(), headers=headers)).json()
    url = f"/v1/alerts/{doc['id']}"
    for patch, field in (
        ({"location": {"lat": 100}}, "location.lat"),
        ({"persons": {"min": 500}}, "persons"),
        ({"handling": {"recipient_agencies": ["NO-SUCH"]}}, "handling.recipient_agencies"),
        ({"vessels": [{"length_m": 3}]}, "vessels.0"),
    ):
        response = await network.http.patch(url, json=patch, headers=headers)
        assert response.status_code == 422, patch
        assert field in [error["field"] for error in response.json()["errors"]]
    versions = (await network.http.get(f"{url}/versions", headers=headers)).json()["items"]
    assert len(versions) == 1


def test_imo_check_digits() -> None:
    assert imo_check_digit_ok("9074729")
    assert imo_check_digit_ok("9176187")
    assert not imo_check_digit_ok("9074728")
