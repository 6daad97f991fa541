"""SAR coordination: the coordinating RCC is an MRCC, may update and close its report like the
sender, and coordination is handed over by the sender or the current RCC only, as a new
version with a `distress.coordination_changed` event (feed and webhooks). SQLite and PostgreSQL."""

import json
from typing import Any

import pytest
from sqlmodel import Session

from models.enums import Role
from models.tables import RECORD
from tests.hooks import Hooks
from tests.receiver import verify
from tests.support import Network, distress_body

REPORTS = "/v1/distress-reports"


async def _send(network: Network, **changes: Any) -> dict[str, Any]:
    """BD-CG's report coordinated by MY-MRCC (actual, network-wide unless changed)."""
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = distress_body(**{"handling": {"distribution": "network", "tlp": "amber"}, **changes})
    response = await network.http.post(REPORTS, json=body, headers=sender)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _as(network: Network, agency: str, role: Role = Role.DUTY_OFFICER) -> dict[str, str]:
    return await network.headers(role, agency)


def _fields(response: Any) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [error["field"] for error in response.json()["errors"]]


@pytest.mark.parametrize("coordinator", ["MY-MMEA", "BD-CG"])
async def test_the_coordinating_rcc_must_be_an_mrcc(network: Network, coordinator: str) -> None:
    sender = await _as(network, "BD-CG")
    body = distress_body(coordinating_rcc=coordinator)
    refused = await network.http.post(REPORTS, json=body, headers=sender)
    assert refused.status_code == 422
    assert _fields(refused) == ["coordinating_rcc"]
    assert "only an mrcc coordinates" in refused.text
    listed = await network.http.get(REPORTS, headers=sender)
    assert listed.json()["items"] == []  # nothing written

    report = await _send(network)
    url = f"{REPORTS}/{report['id']}"
    patched = await network.http.patch(url, json={"coordinating_rcc": coordinator}, headers=sender)
    assert patched.status_code == 422
    assert _fields(patched) == ["coordinating_rcc"]
    current = await network.http.get(url, headers=sender)
    assert current.json()["version"] == 1
    assert current.json()["coordinating_rcc"] == "MY-MRCC"


async def test_the_coordinator_updates_and_closes_like_the_sender(network: Network) -> None:
    report = await _send(network)
    url = f"{REPORTS}/{report['id']}"
    change = {"actions_taken": "KM Pekan on scene"}
    # readers that are neither sender nor coordinator may not change it
    for agency, role in (
        ("ID-BASARNAS", Role.DUTY_OFFICER),  # another MRCC (it reads every actual report)
        ("MY-MMEA", Role.DUTY_OFFICER),  # the coordinator's compatriot
        ("MY-MRCC", Role.VIEWER),  # the coordinator's viewer: no write scope
    ):
        headers = await _as(network, agency, role)
        refused = await network.http.patch(url, json=change, headers=headers)
        assert refused.status_code == 403, (agency, role, refused.text)
        closing = await network.http.post(
            f"{url}/close", json={"outcome": "rescued"}, headers=headers
        )
        assert closing.status_code == 403, (agency, role)
    rcc = await _as(network, "MY-MRCC")
    updated = await network.http.patch(url, json=change, headers=rcc)
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    assert updated.json()["sitrep_number"] == 2
    assert updated.json()["sender_agency"] == "BD-CG"  # still BD-CG's report
    stale = await network.http.patch(url, json=change, headers={**rcc, "If-Match": '"1"'})
    assert stale.status_code == 412
    closed = await network.http.post(
        f"{url}/close", json={"outcome": "rescued", "note": "184 rescued"}, headers=rcc
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    versions = await network.http.get(f"{url}/versions", headers=rcc)
    assert [v["version"] for v in versions.json()["items"]] == [1, 2, 3]


async def test_handing_over_moves_who_may_change_the_report(network: Network) -> None:
    report = await _send(network)
    url = f"{REPORTS}/{report['id']}"
    sender, old, new = (
        await _as(network, "BD-CG"),
        await _as(network, "MY-MRCC"),
        await _as(network, "ID-BASARNAS"),
    )
    body = {"to": "ID-BASARNAS", "note": "drifted into the Indonesian SRR"}
    handed = await network.http.post(f"{url}/coordination", json=body, headers=old)
    assert handed.status_code == 200, handed.text
    assert handed.json()["coordinating_rcc"] == "ID-BASARNAS"
    assert handed.json()["version"] == 2
    assert handed.json()["sitrep_number"] == 2
    assert handed.headers["etag"] == '"2"'
    change = {"actions_taken": "SAR aircraft tasked"}
    assert (await network.http.patch(url, json=change, headers=old)).status_code == 403
    assert (await network.http.patch(url, json=change, headers=new)).status_code == 200
    assert (await network.http.patch(url, json=change, headers=sender)).status_code == 200
    # the sender takes it back; the new RCC may hand it on too
    back = await network.http.post(f"{url}/coordination", json={"to": "TH-MRCC"}, headers=new)
    assert back.status_code == 200, back.text
    assert (await network.http.patch(url, json=change, headers=new)).status_code == 403
    again = await network.http.post(f"{url}/coordination", json={"to": "MY-MRCC"}, headers=sender)
    assert again.status_code == 200, again.text


async def test_who_may_hand_over_and_to_whom(network: Network) -> None:
    report = await _send(network)
    url = f"{REPORTS}/{report['id']}/coordination"
    sender = await _as(network, "BD-CG")
    cases: list[tuple[dict[str, str], dict[str, Any], int, str | None]] = [
        (await _as(network, "ID-BASARNAS"), {"to": "ID-BASARNAS"}, 403, None),  # a stranger
        (await _as(network, "MY-MMEA"), {"to": "ID-BASARNAS"}, 403, None),
        (await _as(network, "MY-MRCC", Role.VIEWER), {"to": "ID-BASARNAS"}, 403, None),
        (sender, {"to": "MY-MMEA"}, 422, "to"),  # not an MRCC
        (sender, {"to": "XX-RCC"}, 422, "to"),  # not in the registry
        (sender, {"to": "not a code"}, 422, "to"),
        (sender, {}, 422, "to"),
        (sender, {"to": "ID-BASARNAS", "from": "MY-MRCC"}, 422, "from"),  # unknown field
        (sender, {"to": "ID-BASARNAS", "note": "x" * 1001}, 422, "note"),
        (sender, {"to": "MY-MRCC"}, 409, None),  # already coordinating
    ]
    for headers, body, status, field in cases:
        response = await network.http.post(url, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if field is not None:
            assert field in _fields(response), (body, response.text)
    stale = await network.http.post(
        url, json={"to": "ID-BASARNAS"}, headers={**sender, "If-Match": '"7"'}
    )
    assert stale.status_code == 412
    current = await network.http.get(f"{REPORTS}/{report['id']}", headers=sender)
    assert current.json()["version"] == 1  # none of them wrote anything
    assert current.json()["coordinating_rcc"] == "MY-MRCC"
    await network.http.post(
        f"{REPORTS}/{report['id']}/close", json={"outcome": "assisted"}, headers=sender
    )
    closed = await network.http.post(url, json={"to": "ID-BASARNAS"}, headers=sender)
    assert closed.status_code == 409


async def test_an_invisible_report_is_a_404(network: Network) -> None:
    private = {"distribution": "agency", "tlp": "red"}
    report = await _send(network, status="exercise", coordinating_rcc=None, handling=private)
    outsider = await _as(network, "MY-MRCC")  # an MRCC, but exercises get no floor
    response = await network.http.post(
        f"{REPORTS}/{report['id']}/coordination", json={"to": "MY-MRCC"}, headers=outsider
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_coordination_never_widens_who_reads(network: Network) -> None:
    """An exercise is read by no MRCC unless named: naming one that cannot read it is a 422
    (on create, update and handover); once the sender names it a recipient, it can."""
    national = {"distribution": "national", "tlp": "amber"}
    sender = await _as(network, "BD-CG")
    body = distress_body(status="exercise", handling=national, coordinating_rcc="MY-MRCC")
    refused = await network.http.post(REPORTS, json=body, headers=sender)
    assert refused.status_code == 422
    assert _fields(refused) == ["coordinating_rcc"]
    assert "cannot read" in refused.text
    report = await _send(network, status="exercise", coordinating_rcc=None, handling=national)
    url = f"{REPORTS}/{report['id']}"
    handover = await network.http.post(
        f"{url}/coordination", json={"to": "MY-MRCC"}, headers=sender
    )
    assert handover.status_code == 422
    assert _fields(handover) == ["to"]
    rcc = await _as(network, "MY-MRCC")
    assert (await network.http.get(url, headers=rcc)).status_code == 404
    named = {"handling": {"recipient_agencies": ["MY-MRCC"]}}
    assert (await network.http.patch(url, json=named, headers=sender)).status_code == 200
    handover = await network.http.post(
        f"{url}/coordination", json={"to": "MY-MRCC"}, headers=sender
    )
    assert handover.status_code == 200, handover.text
    assert (await network.http.get(url, headers=rcc)).status_code == 200
    # ...and the sender cannot narrow the handling behind its coordinator's back
    narrowed: dict[str, Any] = {"handling": {"recipient_agencies": []}}
    refused = await network.http.patch(url, json=narrowed, headers=sender)
    assert refused.status_code == 422
    assert _fields(refused) == ["coordinating_rcc"]


async def test_the_handover_event_reaches_feed_and_webhooks(hooks: Hooks) -> None:
    network = hooks.network
    _, secret = await hooks.subscribe(
        "TH-MECC", "/wanted", event_types=["distress.coordination_changed"]
    )
    await hooks.subscribe("TH-MECC", "/other", event_types=["distress.updated"])
    report = await _send(network)
    await hooks.pump()
    assert hooks.receiver.received == []
    rcc = await _as(network, "MY-MRCC")
    body = {"to": "ID-BASARNAS", "note": "drifted south"}
    handed = await network.http.post(
        f"{REPORTS}/{report['id']}/coordination", json=body, headers=rcc
    )
    assert handed.status_code == 200, handed.text
    await hooks.pump()
    assert [r.path for r in hooks.receiver.received] == ["/wanted"]
    event = verify(secret, hooks.receiver.received[0])
    assert event["type"] == "distress.coordination_changed"
    assert event["data"]["coordinating_rcc"] == "ID-BASARNAS"
    assert event["data"]["version"] == 2
    coordination = event["data"]["coordination"]
    assert {k: coordination[k] for k in ("from", "to", "by", "note")} == {
        "from": "MY-MRCC",
        "to": "ID-BASARNAS",
        "by": "MY-MRCC",
        "note": "drifted south",
    }
    reader = await _as(network, "MY-MMEA")
    feed = (await network.http.get("/v1/feed?after=0", headers=reader)).json()
    assert [e["type"] for e in feed["events"]] == [
        "distress.created",
        "distress.coordination_changed",
    ]
    assert feed["events"][1]["data"]["coordination"]["to"] == "ID-BASARNAS"


async def test_a_report_stored_before_a_field_existed_can_be_handed_over(
    network: Network,
) -> None:
    """A report stored before `language` was a field has none in its stored JSON. Update and
    close give such a missing field its default; the hand-over read every field of the
    stored report by name, and answered a 500."""
    report = await _send(network)

    def stored_before_language(session: Session) -> None:
        doc = {name: value for name, value in report.items() if name != "language"}
        session.connection().execute(
            RECORD.update().where(RECORD.c.id == report["id"]).values(doc=json.dumps(doc))
        )

    network.db.run_write(stored_before_language)
    url = f"{REPORTS}/{report['id']}/coordination"
    handed = await network.http.post(
        url, json={"to": "ID-BASARNAS"}, headers=await _as(network, "MY-MRCC")
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["coordinating_rcc"] == "ID-BASARNAS"
