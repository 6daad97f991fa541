"""One record's data-protection lifecycle across its copies: what a redaction tells its sender
about the other versions (first time and on a retry), and who hears of a purge. SQLite and
PostgreSQL, real HTTP, a real receiver."""

from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from core.clock import iso, utcnow
from models.enums import Role
from tests.hooks import Hooks
from tests.receiver import verify
from tests.support import Network, alert_body, distress_body, handling

MARKER = "zqxlifecyclemarker5150"
ALERTS = "/v1/alerts"


async def _sender(network: Network) -> dict[str, str]:
    return await network.headers(Role.DUTY_OFFICER, "BD-CG")


async def _post(network: Network, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await network.http.post(path, json=body, headers=await _sender(network))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _redact(network: Network, url: str, number: int, fields: list[str]) -> Any:
    body = {"fields": fields, "reason": "Informant named by mistake"}
    return await network.http.post(
        f"{url}/versions/{number}/redact", json=body, headers=await _sender(network)
    )


async def test_a_redaction_names_the_versions_that_moved_the_text(network: Network) -> None:
    """An update that adds a vessel in front, or a need before the others, moves the copied
    text to another list index: the text is still there, and the answer must say so."""
    record = await _post(
        network,
        ALERTS,
        alert_body(vessels=[{"name": f"KM {MARKER}", "mmsi": "525012345"}]),
    )
    url = f"{ALERTS}/{record['id']}"
    added = {"vessels": [{"name": "KM Harapan"}, {"name": f"KM {MARKER}", "mmsi": "525012345"}]}
    changed = await network.http.patch(url, json=added, headers=await _sender(network))
    assert changed.status_code == 200, changed.text
    answer = await _redact(network, url, 1, ["vessels.0.name"])
    assert answer.status_code == 200, answer.text
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    assert MARKER in (await network.http.get(url, headers=th)).text  # version 2 still has it
    assert answer.json()["redaction"]["also_in_versions"] == [2]

    report = await _post(
        network,
        "/v1/distress-reports",
        distress_body(assistance_required=["rescue", f"call {MARKER}"]),
    )
    url = f"/v1/distress-reports/{report['id']}"
    needs = {"assistance_required": ["water", "rescue", f"call {MARKER}"]}
    changed = await network.http.patch(url, json=needs, headers=await _sender(network))
    assert changed.status_code == 200, changed.text
    answer = await _redact(network, url, 1, ["assistance_required.1"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["redaction"]["also_in_versions"] == [2]


@pytest.mark.xfail(
    strict=True,
    reason="a retry finds the text already gone from the version, so it cannot recompute "
    "also_in_versions (it answers null: see the test below); keeping the first answer's list "
    "would need a place of its own (the notice goes to partners, who must not learn of "
    "versions they cannot read)",
)
async def test_a_retried_redaction_answers_as_the_first_did(network: Network) -> None:
    """A redaction retried because its answer was lost (the case retries are for) must not
    tell the sender that no other version holds the text, nor date the redaction anew: the
    partners' notice keeps the first time."""
    record = await _post(network, ALERTS, alert_body(description=f"Informant {MARKER}"))
    url = f"{ALERTS}/{record['id']}"
    changed = await network.http.patch(
        url, json={"severity": "extreme"}, headers=await _sender(network)
    )
    assert changed.json()["version"] == 2  # the description, unchanged, copied
    first = await _redact(network, url, 1, ["description"])
    assert first.status_code == 200, first.text
    assert first.json()["redaction"]["also_in_versions"] == [2]
    again = await _redact(network, url, 1, ["description"])
    assert again.status_code == 200, again.text
    assert again.json()["redaction"]["redacted_at"] == first.json()["redaction"]["redacted_at"]
    assert again.json()["redaction"].get("also_in_versions") == [2]


async def test_a_retried_redaction_keeps_its_first_time_and_says_what_it_cannot_tell(
    network: Network,
) -> None:
    """A retry dates the redaction as the partners' notice did, not anew, and answers
    `also_in_versions: null` (cannot tell), never `[]` (which would say no other version
    holds the text, while version 2 does)."""
    record = await _post(network, ALERTS, alert_body(description=f"Informant {MARKER}"))
    url = f"{ALERTS}/{record['id']}"
    changed = await network.http.patch(
        url, json={"severity": "extreme"}, headers=await _sender(network)
    )
    assert changed.status_code == 200, changed.text
    first = (await _redact(network, url, 1, ["description"])).json()["redaction"]
    again = await _redact(network, url, 1, ["description"])
    assert again.status_code == 200, again.text
    assert again.json()["redaction"]["redacted_at"] == first["redacted_at"]
    assert again.json()["redaction"]["also_in_versions"] is None
    assert MARKER not in again.json()["description"]


def _sighting(note: str) -> dict[str, Any]:
    return {
        "observed_at": iso(utcnow() - timedelta(minutes=30)),
        "position": {"lat": 7.95, "lon": 95.6},
        "source": "aircraft",
        "note": note,
    }


async def test_a_purge_reaches_a_subscription_that_took_only_its_sightings(
    hooks: Hooks, cli_env: CliRunner
) -> None:
    """A subscription to `sighting.created` holds copies of a record's sightings (their notes,
    where the boat was seen, by whom): the purge deletes them here, and `*.purged` is how a
    partner learns to delete its own."""
    network = hooks.network
    _, secret = await hooks.subscribe("TH-MECC", "/sightings", event_types=["sighting.created"])
    record = await hooks.post_alert(handling=handling("network", personal_data=True))
    my = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    url = f"{ALERTS}/{record['id']}/sightings"
    seen = await network.http.post(url, json=_sighting(f"skipper {MARKER} waved"), headers=my)
    assert seen.status_code == 201, seen.text
    await hooks.pump()
    [copy] = [verify(secret, r) for r in hooks.receiver.at("/sightings")]
    assert copy["type"] == "sighting.created"
    assert copy["data"]["record_id"] == record["id"]
    assert MARKER in copy["data"]["note"]
    hooks.receiver.received.clear()

    as_of = iso(utcnow() + timedelta(days=365))
    assert cli_env.invoke(cli, ["retention", "purge", "--as-of", as_of]).exit_code == 0
    await hooks.pump()
    told = [verify(secret, r) for r in hooks.receiver.at("/sightings")]
    assert [(e["type"], e["data"]["id"]) for e in told] == [("alert.purged", record["id"])]


async def test_a_retried_post_after_a_purge_names_the_tombstone(
    network: Network, cli_env: CliRunner
) -> None:
    """Every 410 of a purged record carries its tombstone (DATA_PROTECTION.md): the retried
    POST too, the one path where the client may not know which record its key made."""
    keyed = {**await _sender(network), "Idempotency-Key": "bd-cg-lifecycle-1"}
    body = alert_body(handling=handling("network", personal_data=True))
    first = await network.http.post(ALERTS, json=body, headers=keyed)
    assert first.status_code == 201, first.text
    as_of = iso(utcnow() + timedelta(days=365))
    assert cli_env.invoke(cli, ["retention", "purge", "--as-of", as_of]).exit_code == 0
    read = await network.http.get(f"{ALERTS}/{first.json()['id']}", headers=keyed)
    assert read.status_code == 410
    again = await network.http.post(ALERTS, json=body, headers=keyed)
    assert again.status_code == 410, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json().get("tombstone") == read.json()["tombstone"]
