"""The retention purge: a record past `retain_until` is gone from every place its content was
(the database files, or a dump, hold no trace of a marker it carried), readers get 410, the
feed and every subscriber that took its kind get `*.purged`, a legal hold keeps it, and the
audit chain still verifies. SQLite and PostgreSQL."""

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from lxml import etree
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli
from core.clock import iso, utcnow
from models.enums import Role
from services.records.cap import cap_time
from tests.conftest import make_settings
from tests.hooks import Hooks
from tests.receiver import verify
from tests.stored import places_holding
from tests.support import Network, alert_body, handling
from tests.test_cap_geo_acks import CAP, _valid, cap_schema

__all__ = ["cap_schema"]  # the fixture, shared with the CAP tests

MARKER = "zqxpurgemarker7731"
ALERTS = "/v1/alerts"


def _as_of(days: float) -> str:
    return iso(utcnow() + timedelta(days=days))


async def _post(network: Network, **changes: Any) -> dict[str, Any]:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    answer = await network.http.post(ALERTS, json=alert_body(**changes), headers=sender)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _personal(**changes: Any) -> dict[str, Any]:
    """A network alert naming people (kept 180 days), with the marker in every kind of place."""
    return {
        "description": f"Crew named by an informant: {MARKER}",
        "place_name": f"Jetty near {MARKER} house",
        "vessels": [{"name": f"KM {MARKER}", "call_sign": "PQ7731", "mmsi": "525012345"}],
        "case_id": "BD-CG-2026-0099",
        "handling": handling("network", personal_data=True, ack_required=True),
        **changes,
    }


async def test_a_purge_leaves_a_tombstone_everywhere(
    hooks: Hooks, cli_env: CliRunner, database_url: str
) -> None:
    network = hooks.network
    _, secret = await hooks.subscribe("TH-MECC", "/all")
    # a place filter the purged record no longer has, and a list naming one type of the kind
    _, boxed = await hooks.subscribe("MY-MMEA", "/box", filter={"bbox": [90, 15, 95, 22]})
    _, typed = await hooks.subscribe("ID-BASARNAS", "/typed", event_types=["alert.created"])
    gone = await _post(network, **_personal())
    kept = await _post(network, description="Kept: no personal data")
    url = f"{ALERTS}/{gone['id']}"
    assert gone["handling"]["personal_data"] is True
    assert gone["handling"]["purpose"] == "border_management"
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    assert (await network.http.post(f"{url}/acks", json={"note": MARKER}, headers=th)).is_success
    sighting = {
        "observed_at": iso(utcnow()),
        "position": {"lat": 20.5, "lon": 92.2},
        "source": "vessel",
        "note": f"Seen again: {MARKER}",
    }
    assert (await network.http.post(f"{url}/sightings", json=sighting, headers=th)).is_success
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    updated = await network.http.patch(url, json={"headline": f"Update {MARKER}"}, headers=sender)
    assert updated.status_code == 200
    await hooks.pump()
    assert places_holding(database_url, MARKER)  # the marker is there to be found
    hooks.receiver.received.clear()

    dry = cli_env.invoke(cli, ["retention", "purge", "--dry-run", "--as-of", _as_of(365)])
    assert dry.exit_code == 0, dry.output
    assert gone["id"] in dry.output
    assert kept["id"] not in dry.output
    assert "1 records would be purged" in dry.output
    assert (await network.http.get(url, headers=th)).status_code == 200  # nothing changed

    purged = cli_env.invoke(cli, ["retention", "purge", "--as-of", _as_of(365)])
    assert purged.exit_code == 0, purged.output
    assert "purged 1 records" in purged.output

    assert places_holding(database_url, MARKER) == []
    for path in ("", "/versions", "/acks", "/sightings", "/cap"):
        answer = await network.http.get(url + path, headers=th)
        assert answer.status_code == 410, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    tombstone = (await network.http.get(url, headers=th)).json()["tombstone"]
    assert set(tombstone) == {"id", "kind", "sender_agency", "created_at", "purged_at"}
    outsider = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    assert (await network.http.get(url, headers=outsider)).status_code == 410  # network-wide
    assert (await network.http.get(f"{ALERTS}/{kept['id']}", headers=th)).status_code == 200
    listed = (await network.http.get(ALERTS, headers=th)).json()["items"]
    assert [item["id"] for item in listed] == [kept["id"]]
    assert (await network.http.get("/v1/cases/BD-CG-2026-0099", headers=th)).status_code == 404
    assert (await network.http.get("/v1/vessels/mmsi:525012345", headers=th)).status_code == 404
    again = await network.http.post(url + "/acks", json={}, headers=outsider)
    assert again.status_code == 410

    feed = (await network.http.get("/v1/feed?after=0", headers=th)).json()["events"]
    of_gone = [e for e in feed if e["data"]["id"] == gone["id"]]
    assert [e["type"] for e in of_gone] == [
        "alert.created",
        "alert.acknowledged",
        "sighting.created",
        "alert.updated",
        "alert.purged",
    ]
    assert all(e["data"] == tombstone for e in of_gone)

    await hooks.pump()
    told = {r.path: r for r in hooks.receiver.received}
    assert set(told) == {"/all", "/box", "/typed"}
    for path, key in (("/all", secret), ("/box", boxed), ("/typed", typed)):
        event = verify(key, told[path])
        assert event["type"] == "alert.purged"
        assert event["data"] == tombstone

    auditor = await network.headers(Role.AUDITOR, "BD-CG")
    rows = (await network.http.get("/v1/audit-events?limit=200", headers=auditor)).json()["items"]
    purges = [r for r in rows if r["action"] == "retention purge"]
    assert [r["object_id"] for r in purges] == [gone["id"]]
    assert purges[0]["actor_client"].startswith("cli:")
    verified = cli_env.invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output

    second = cli_env.invoke(cli, ["retention", "purge", "--as-of", _as_of(365)])
    assert "purged 0 records" in second.output  # nothing twice
    feed = (await network.http.get("/v1/feed?after=0", headers=th)).json()["events"]
    assert [e["type"] for e in feed].count("alert.purged") == 1


async def test_a_purge_tells_everyone_who_could_read_any_version(
    hooks: Hooks, cli_env: CliRunner
) -> None:
    """Narrowed after it went out: the readers of the wide version hear of the purge too."""
    network = hooks.network
    await hooks.subscribe("TH-MECC", "/th")
    record = await _post(network, **_personal())
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    narrowed = {"handling": handling("national", personal_data=True)}
    changed = await network.http.patch(f"{ALERTS}/{record['id']}", json=narrowed, headers=sender)
    assert changed.status_code == 200
    await hooks.pump()
    hooks.receiver.received.clear()
    assert cli_env.invoke(cli, ["retention", "purge", "--as-of", _as_of(365)]).exit_code == 0
    await hooks.pump()
    assert [r.path for r in hooks.receiver.received] == ["/th"]
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    feed = (await network.http.get("/v1/feed?after=0", headers=th)).json()["events"]
    assert [e["type"] for e in feed] == ["alert.created", "alert.purged"]
    bd = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    feed = (await network.http.get("/v1/feed?after=0", headers=bd)).json()["events"]
    # the sender reads both versions: one notice for each handling they had
    assert [e["type"] for e in feed] == ["alert.created", "alert.updated"] + ["alert.purged"] * 2


async def test_a_legal_hold_keeps_a_record_past_its_date(
    network: Network, cli_env: CliRunner
) -> None:
    record = await _post(network, **_personal())
    url = f"{ALERTS}/{record['id']}"
    hold = {"on": True, "reason": "Evidence in prosecution 17/2026"}
    for role, agency, status in (
        (Role.DUTY_OFFICER, "BD-CG", 403),  # the sender agency, but not its admin
        (Role.AGENCY_ADMIN, "TH-MECC", 403),  # an admin who reads it, of another agency
        (Role.AGENCY_ADMIN, "BD-CG", 200),
    ):
        headers = await network.headers(role, agency)
        answer = await network.http.post(f"{url}/legal-hold", json=hold, headers=headers)
        assert answer.status_code == status, (role, agency, answer.text)
    assert answer.json()["legal_hold"] is True
    assert answer.json()["version"] == 1  # not a new version
    admin = await network.headers(Role.AGENCY_ADMIN, "BD-CG")
    assert (await network.http.get(url, headers=admin)).json()["legal_hold"] is True
    bad = await network.http.post(f"{url}/legal-hold", json={"on": True}, headers=admin)
    assert bad.status_code == 422
    assert "reason" in bad.text

    held = cli_env.invoke(cli, ["retention", "purge", "--as-of", _as_of(3650)])
    assert "purged 0 records" in held.output
    assert (await network.http.get(url, headers=admin)).status_code == 200
    # an update keeps the hold
    changed = await network.http.patch(url, json={"headline": "Still held"}, headers=admin)
    assert changed.json()["legal_hold"] is True

    lift = {"on": False, "reason": "Case closed"}
    assert (await network.http.post(f"{url}/legal-hold", json=lift, headers=admin)).is_success
    assert (
        "purged 1 records"
        in cli_env.invoke(cli, ["retention", "purge", "--as-of", _as_of(3650)]).output
    )
    assert (await network.http.get(url, headers=admin)).status_code == 410
    gone = await network.http.post(f"{url}/legal-hold", json=hold, headers=admin)
    assert gone.status_code == 410

    auditor = await network.headers(Role.AUDITOR, "BD-CG")
    rows = (await network.http.get("/v1/audit-events?limit=100", headers=auditor)).json()["items"]
    holds = [r for r in rows if r["action"].endswith("/legal-hold") and r["status_code"] == 200]
    assert [r["detail"]["reason"] for r in holds] == [hold["reason"], "Case closed"]


async def test_bad_purge_commands_change_nothing(network: Network, cli_env: CliRunner) -> None:
    record = await _post(network, **_personal())
    for wrong in ("tomorrow", "2027-01-01", "0"):
        answer = cli_env.invoke(cli, ["retention", "purge", "--as-of", wrong])
        assert answer.exit_code == 2, answer.output
        assert "RFC 3339" in answer.output
    assert (
        "0 records would be purged"
        in cli_env.invoke(cli, ["retention", "purge", "--dry-run"]).output
    )  # as of now: nothing has expired yet
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    assert (await network.http.get(f"{ALERTS}/{record['id']}", headers=th)).status_code == 200


async def test_retention_follows_purpose_and_personal_data(network: Network) -> None:
    """`retain_until` is the last change plus the period of the purpose (the defaults here),
    at most 180 days with personal data; it moves with each change."""
    cases: list[tuple[dict[str, Any], int]] = [
        ({}, 730),  # an alert's default purpose: border management
        ({"handling": handling("network", purpose="law_enforcement")}, 1095),
        ({"handling": handling("network", purpose="humanitarian")}, 730),
        ({"handling": handling("network", purpose="search_and_rescue")}, 1825),
        ({"handling": handling("network", purpose="law_enforcement", personal_data=True)}, 180),
    ]
    for changes, days in cases:
        record = await _post(network, **changes)
        kept = datetime.fromisoformat(record["retain_until"]) - datetime.fromisoformat(
            record["updated_at"]
        )
        assert kept == timedelta(days=days), (changes, kept)
        assert record["legal_hold"] is False
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    wrong = alert_body(handling=handling("network", purpose="marketing"))
    refused = await network.http.post(ALERTS, json=wrong, headers=sender)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["handling.purpose"]
    not_bool = alert_body(handling=handling("network", personal_data="yes"))
    refused = await network.http.post(ALERTS, json=not_bool, headers=sender)
    assert [e["field"] for e in refused.json()["errors"]] == ["handling.personal_data"]


async def test_purpose_travels_with_the_record(hooks: Hooks, cap_schema: etree.XMLSchema) -> None:
    """Every reader sees what a record is for and whether it names people: in the record,
    its events, its CAP (valid against the official XSD) and its GeoJSON."""
    network = hooks.network
    _, secret = await hooks.subscribe("TH-MECC")
    changes = {"handling": handling("network", purpose="law_enforcement", personal_data=True)}
    record = await _post(network, **changes)
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    shown = (await network.http.get(f"{ALERTS}/{record['id']}", headers=th)).json()
    assert shown["handling"]["purpose"] == "law_enforcement"
    assert shown["handling"]["personal_data"] is True
    cap = await network.http.get(f"{ALERTS}/{record['id']}/cap", headers=th)
    document = _valid(cap_schema, cap.content)
    parameters = {
        p.findtext(f"{CAP}valueName"): p.findtext(f"{CAP}value")
        for p in document.iter(f"{CAP}parameter")
    }
    assert parameters["rilonPurpose"] == "law_enforcement"
    assert parameters["rilonPersonalData"] == "true"
    assert parameters["rilonRetainUntil"] == cap_time(record["retain_until"])
    geo = (await network.http.get("/v1/geo/alerts", headers=th)).json()
    assert geo["features"][0]["properties"]["handling"]["purpose"] == "law_enforcement"
    await hooks.pump()
    event = verify(secret, hooks.receiver.received[0])
    assert event["data"]["handling"]["purpose"] == "law_enforcement"
    assert event["data"]["retain_until"] == record["retain_until"]


async def test_the_dispatcher_purges_what_expires(hooks: Hooks, database_url: str) -> None:
    """No operator needed: the worker's round purges a record once its date has passed (here
    the dispatcher's clock moves 181 days on), and tells the subscribers."""
    network = hooks.network
    await hooks.subscribe("TH-MECC")
    record = await _post(network, **_personal())
    held = await _post(network, **_personal())
    admin = await network.headers(Role.AGENCY_ADMIN, "BD-CG")
    hold = {"on": True, "reason": "Evidence"}
    url = f"{ALERTS}/{held['id']}/legal-hold"
    assert (await network.http.post(url, json=hold, headers=admin)).status_code == 200
    await hooks.pump()
    hooks.receiver.received.clear()
    hooks.clock.advance(timedelta(days=179).total_seconds())
    await hooks.pump()
    assert hooks.receiver.received == []  # not yet
    hooks.clock.advance(timedelta(days=2).total_seconds())
    await hooks.pump()
    # signed at the dispatcher's moved clock: read, not verified (the other tests verify)
    [notice] = [json.loads(r.body) for r in hooks.receiver.received]
    assert notice["type"] == "alert.purged"
    assert notice["data"]["id"] == record["id"]
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    assert (await network.http.get(f"{ALERTS}/{record['id']}", headers=th)).status_code == 410
    assert (await network.http.get(f"{ALERTS}/{held['id']}", headers=th)).status_code == 200
    assert places_holding(database_url, MARKER) != []  # the held one still has it


async def test_a_retried_post_after_a_purge_or_a_redaction(
    network: Network, cli_env: CliRunner
) -> None:
    """The first answer to a retried POST is replayed as it now stands: redacted after a
    redaction, 410 after a purge (never a second record)."""
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    keyed = {**sender, "Idempotency-Key": "bd-cg-2026-0099-1"}
    body = alert_body(**_personal())
    first = await network.http.post(ALERTS, json=body, headers=keyed)
    assert first.status_code == 201
    url = f"{ALERTS}/{first.json()['id']}/versions/1/redact"
    redaction = {"fields": ["description"], "reason": "informant"}
    assert (await network.http.post(url, json=redaction, headers=sender)).status_code == 200
    replayed = await network.http.post(ALERTS, json=body, headers=keyed)
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["description"] == "[redacted]"
    assert cli_env.invoke(cli, ["retention", "purge", "--as-of", _as_of(365)]).exit_code == 0
    gone = await network.http.post(ALERTS, json=body, headers=keyed)
    assert gone.status_code == 410, gone.text
    assert gone.headers["content-type"] == "application/problem+json"
    listed = (await network.http.get(ALERTS, headers=sender)).json()["items"]
    assert listed == []  # and no second record


async def test_the_periods_come_from_the_settings(database_url: str, tmp_path: Path) -> None:
    """RILON_RETENTION_* reach every write: publish, update, cancel."""
    settings = make_settings(
        database_url,
        tmp_path,
        retention_border_management_days=10,
        retention_personal_data_days=3,
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
            network = Network.seed(application.state.runtime.db, http)

            def kept(record: dict[str, Any]) -> timedelta:
                until = datetime.fromisoformat(record["retain_until"])
                return until - datetime.fromisoformat(record["updated_at"])

            record = await _post(network)
            assert kept(record) == timedelta(days=10)
            sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
            url = f"{ALERTS}/{record['id']}"
            personal = {"handling": {"personal_data": True}}
            changed = await network.http.patch(url, json=personal, headers=sender)
            assert kept(changed.json()) == timedelta(days=3)
            cancel = {"reason": "a fishing boat"}
            cancelled = await network.http.post(f"{url}/cancel", json=cancel, headers=sender)
            assert cancelled.status_code == 200, cancelled.text
            assert kept(cancelled.json()) == timedelta(days=3)
