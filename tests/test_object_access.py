"""Object-level authorization by replay: every read an agency made of its own objects, sent
again with the token of an agency that may not see them, is answered exactly like a read of
something that does not exist (404), and the trail records it as a denial."""

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from models.audit import AuditEvent
from models.enums import AgencyType, Role
from tests.support import Network, alert_body, distress_body

OWNER = "TH-MECC"
# An agency of the owner's country and one of another country; neither is an MRCC, so the
# safety-of-life floor gives them nothing of the owner's actual distress report either.
REPLAYERS = ["TH-POL", "MY-MMEA"]
PRIVATE = {"distribution": "agency", "tlp": "amber", "ack_required": True}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def _owner_session(network: Network) -> tuple[list[str], dict[str, str]]:
    """The owner publishes, subscribes and reads its own objects; returns every GET it sent
    (in order) and the objects' ids with a piece of their content that must never leak."""
    reads: list[str] = []

    async def note(request: httpx.Request) -> None:
        if request.method == "GET":
            reads.append(request.url.raw_path.decode())

    admin = await network.headers(Role.AGENCY_ADMIN, OWNER)
    http = network.http
    alert = (await http.post("/v1/alerts", json=alert_body(handling=PRIVATE), headers=admin)).json()
    distress = (
        await http.post("/v1/distress-reports", json=distress_body(handling=PRIVATE), headers=admin)
    ).json()
    hook = {"url": "http://127.0.0.1:9/th-mecc-private-hook", "event_types": ["*"]}
    subscription = (await http.post("/v1/subscriptions", json=hook, headers=admin)).json()
    url = f"/v1/subscriptions/{subscription['id']}"
    ping = (await http.post(f"{url}/ping", headers=admin)).json()
    http.event_hooks["request"].append(note)
    try:
        for path in (
            f"/v1/alerts/{alert['id']}",
            f"/v1/alerts/{alert['id']}/versions",
            f"/v1/alerts/{alert['id']}/acks",
            f"/v1/alerts/{alert['id']}/cap",
            f"/v1/distress-reports/{distress['id']}",
            f"/v1/distress-reports/{distress['id']}/versions",
            f"/v1/distress-reports/{distress['id']}/acks",
            url,
            f"{url}/deliveries",
            f"/v1/agencies/{OWNER}/clients",
            "/v1/alerts",
            "/v1/distress-reports",
            "/v1/geo/alerts",
            "/v1/geo/distress-reports",
            "/v1/feed",
            "/v1/subscriptions",
        ):
            response = await http.get(path, headers=admin)
            assert response.status_code == 200, (path, response.text)
    finally:
        http.event_hooks["request"].remove(note)
    owner_client = network.role(Role.AGENCY_ADMIN, OWNER).client_id
    secrets = {
        owner_client: owner_client,
        alert["id"]: alert["headline"],
        distress["id"]: distress["actions_taken"] or distress["id"],
        subscription["id"]: hook["url"],
        ping["delivery_id"]: ping["event_id"],
    }
    return reads, secrets


def _normalised(response: httpx.Response) -> dict[str, Any]:
    body = dict(response.json())
    body.pop("request_id", None)
    body.pop("instance", None)
    return {
        key: UUID.sub("<id>", value) if isinstance(value, str) else value
        for key, value in body.items()
    }


def _audit_row(network: Network, request_id: str) -> AuditEvent:
    rows = network.db.run_read(
        lambda s: list(s.exec(select(AuditEvent).where(col(AuditEvent.request_id) == request_id)))
    )
    assert len(rows) == 1, request_id
    return rows[0]


@pytest.mark.parametrize("replayer", REPLAYERS)
async def test_replayed_reads_of_anothers_objects_are_404_and_denied(
    network: Network, replayer: str
) -> None:
    network.add_agency("TH-POL", "TH", AgencyType.POLICE)
    reads, secrets = await _owner_session(network)
    assert len(reads) == 16
    headers = await network.headers(Role.AGENCY_ADMIN, replayer)
    for n, path in enumerate(reads):
        request_id = f"replay-{replayer}-{n}"
        response = await network.http.get(path, headers={**headers, "X-Request-ID": request_id})
        for content in (*secrets, *secrets.values()):
            if content not in path:
                assert content not in response.text, (path, content)
        named = [object_id for object_id in secrets if object_id in path]
        if path.endswith("/clients"):
            # Agencies are public, so another agency's client list is a 403 that reveals
            # nothing (docs/DECISIONS.md, "Registry answers").
            assert response.status_code == 403, path
        elif not named:  # a list: answered, without the owner's objects
            assert response.status_code == 200, (path, response.text)
            assert not any(object_id in response.text for object_id in secrets), path
            continue
        else:
            assert response.status_code == 404, (path, response.text)
            missing_path = path.replace(named[0], str(uuid.uuid4()))
            missing = await network.http.get(missing_path, headers=headers)
            assert missing.status_code == 404, missing_path
            assert _normalised(response) == _normalised(missing), path
        assert response.headers["content-type"] == "application/problem+json"
        row = _audit_row(network, request_id)
        assert (row.outcome, row.status_code, row.actor_agency) == (
            "denied",
            response.status_code,
            replayer,
        ), path


async def test_the_owner_replaying_its_own_reads_still_gets_them(network: Network) -> None:
    """The replay is only meaningful if the same reads succeed for their owner."""
    reads, _secrets = await _owner_session(network)
    headers = await network.headers(Role.VIEWER, OWNER)
    for path in reads:
        if "subscriptions" in path or path.endswith("/clients"):
            continue  # a viewer does not manage them (the access matrix covers this)
        response = await network.http.get(path, headers=headers)
        assert response.status_code == 200, path
