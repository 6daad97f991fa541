"""Alerts and distress reports through real HTTP: create, read, change, finish."""

import pytest

from models.enums import Role
from tests.support import Network, alert_body, distress_body, handling

KINDS = [("alerts", alert_body), ("distress-reports", distress_body)]


@pytest.fixture
async def duty(network: Network) -> dict[str, str]:
    return await network.headers(Role.DUTY_OFFICER, "BD-CG")


@pytest.mark.parametrize(("path", "body"), KINDS)
async def test_create_get_list(network: Network, duty: dict[str, str], path: str, body) -> None:  # type: ignore[no-untyped-def]
    created = await network.http.post(f"/v1/{path}", json=body(), headers=duty)
    assert created.status_code == 201, created.text
    doc = created.json()
    assert created.headers["location"] == f"/v1/{path}/{doc['id']}"
    assert created.headers["etag"] == '"1"'
    assert doc["version"] == 1
    assert doc["sender_agency"] == "BD-CG"
    assert doc["sender_country"] == "BD"
    assert doc["created_at"].endswith("Z")
    got = await network.http.get(f"/v1/{path}/{doc['id']}", headers=duty)
    # the same record; its position's age is as of each answer, a second later on a slow day
    age = doc.pop("position_age_seconds")
    shown = got.json()
    _aged(shown.pop("position_age_seconds"), age)
    assert shown == doc
    assert got.headers["etag"] == '"1"'
    listed = (await network.http.get(f"/v1/{path}", headers=duty)).json()
    assert listed["next_cursor"] is None
    [item] = listed["items"]
    _aged(item.pop("position_age_seconds"), age)
    assert item == doc


def _aged(later: int | None, first: int | None) -> None:
    """The age of one position read twice, a few seconds apart at most."""
    assert (later is None) == (first is None)
    if later is not None and first is not None:
        assert 0 <= later - first <= 5


async def test_distress_sitrep_numbers_and_close(network: Network, duty: dict[str, str]) -> None:
    doc = (
        await network.http.post("/v1/distress-reports", json=distress_body(), headers=duty)
    ).json()
    assert doc["sitrep_number"] == 1
    assert doc["state"] == "open"
    url = f"/v1/distress-reports/{doc['id']}"
    patched = await network.http.patch(
        url, json={"persons_on_board": {"estimate": 190, "deceased": 2}}, headers=duty
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["sitrep_number"] == 2
    assert patched.json()["persons_on_board"]["children"] == 60  # merged, not replaced
    closed = await network.http.post(
        f"{url}/close", json={"outcome": "rescued", "note": "all aboard"}, headers=duty
    )
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"
    assert closed.json()["outcome"] == "rescued"
    assert closed.json()["sitrep_number"] == 3
    again = await network.http.patch(url, json={"actions_taken": "x"}, headers=duty)
    assert again.status_code == 409
    versions = (await network.http.get(f"{url}/versions", headers=duty)).json()["items"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert [v["state"] for v in versions] == ["open", "open", "closed"]


async def test_patch_with_etags(network: Network, duty: dict[str, str]) -> None:
    doc = (await network.http.post("/v1/alerts", json=alert_body(), headers=duty)).json()
    url = f"/v1/alerts/{doc['id']}"
    ok = await network.http.patch(
        url, json={"severity": "extreme"}, headers={**duty, "If-Match": '"1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    assert ok.json()["severity"] == "extreme"
    assert ok.json()["headline"] == doc["headline"]
    stale = await network.http.patch(
        url, json={"severity": "minor"}, headers={**duty, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    current = (await network.http.get(url, headers=duty)).json()
    assert current["severity"] == "extreme"
    assert current["version"] == 2
    malformed = await network.http.patch(
        url, json={"severity": "minor"}, headers={**duty, "If-Match": "null"}
    )
    assert malformed.status_code == 422
    assert "header.If-Match" in [e["field"] for e in malformed.json()["errors"]]


async def test_patch_null_removes_and_server_fields_are_not_patchable(
    network: Network, duty: dict[str, str]
) -> None:
    doc = (await network.http.post("/v1/alerts", json=alert_body(), headers=duty)).json()
    url = f"/v1/alerts/{doc['id']}"
    removed = await network.http.patch(url, json={"place_name": None}, headers=duty)
    assert removed.json()["place_name"] is None
    for field, value in (
        ("id", "x"),
        ("version", 9),
        ("sender_agency", "MY-MMEA"),
        ("state", "cancelled"),
        ("created_at", "2020-01-01T00:00:00Z"),
    ):
        response = await network.http.patch(url, json={field: value}, headers=duty)
        assert response.status_code == 422, field
        assert response.json()["errors"][0]["field"] == field
    required_gone = await network.http.patch(url, json={"headline": None}, headers=duty)
    assert required_gone.status_code == 422
    assert required_gone.json()["errors"][0]["field"] == "headline"
    assert (await network.http.get(url, headers=duty)).json()["version"] == 2


@pytest.mark.parametrize(("path", "body"), KINDS)
async def test_status_is_fixed_at_creation(  # type: ignore[no-untyped-def]
    network: Network, duty: dict[str, str], path: str, body
) -> None:
    doc = (
        await network.http.post(f"/v1/{path}", json={**body(), "status": "exercise"}, headers=duty)
    ).json()
    url = f"/v1/{path}/{doc['id']}"
    turned = await network.http.patch(url, json={"status": "actual"}, headers=duty)
    assert turned.status_code == 422
    assert turned.json()["errors"] == [
        {"field": "status", "message": "stays exercise; post a new record"}
    ]
    current = await network.http.get(url, headers=duty)
    assert (current.json()["status"], current.json()["version"]) == ("exercise", 1)


async def test_cancel(network: Network, duty: dict[str, str]) -> None:
    doc = (await network.http.post("/v1/alerts", json=alert_body(), headers=duty)).json()
    url = f"/v1/alerts/{doc['id']}"
    cancelled = await network.http.post(f"{url}/cancel", json={"reason": "duplicate"}, headers=duty)
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "duplicate"
    twice = await network.http.post(f"{url}/cancel", json={"reason": "again"}, headers=duty)
    assert twice.status_code == 409
    missing_reason = await network.http.post(f"{url}/cancel", json={}, headers=duty)
    assert missing_reason.status_code == 422


async def test_only_the_sender_changes_a_record(network: Network, duty: dict[str, str]) -> None:
    body = alert_body(handling=handling("countries", recipient_countries=["MY"]))
    doc = (await network.http.post("/v1/alerts", json=body, headers=duty)).json()
    url = f"/v1/alerts/{doc['id']}"
    reader = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    assert (await network.http.get(url, headers=reader)).status_code == 200
    assert (
        await network.http.patch(url, json={"severity": "minor"}, headers=reader)
    ).status_code == 403
    cancel = await network.http.post(f"{url}/cancel", json={"reason": "x"}, headers=reader)
    assert cancel.status_code == 403
    outsider = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    assert (await network.http.get(url, headers=outsider)).status_code == 404
    hidden = await network.http.patch(url, json={"severity": "minor"}, headers=outsider)
    assert hidden.status_code == 404
    viewer = await network.headers(Role.VIEWER, "BD-CG")
    assert (
        await network.http.patch(url, json={"severity": "minor"}, headers=viewer)
    ).status_code == 403
    assert (await network.http.get(url, headers=duty)).json()["version"] == 1


async def test_platform_admin_and_auditor_read_no_content(
    network: Network, duty: dict[str, str]
) -> None:
    body = alert_body(handling=handling("network"))
    doc = (await network.http.post("/v1/alerts", json=body, headers=duty)).json()
    for role in (Role.PLATFORM_ADMIN, Role.AUDITOR):
        headers = await network.headers(role)
        assert (
            await network.http.get(f"/v1/alerts/{doc['id']}", headers=headers)
        ).status_code == 403
        assert (await network.http.get("/v1/alerts", headers=headers)).status_code == 403


async def test_idempotency_key(network: Network, duty: dict[str, str]) -> None:
    headers = {**duty, "Idempotency-Key": "bd-cg-2026-11-23-001"}
    first = await network.http.post("/v1/alerts", json=alert_body(), headers=headers)
    again = await network.http.post("/v1/alerts", json=alert_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    replayed, answered = again.json(), first.json()
    _aged(replayed.pop("position_age_seconds"), answered.pop("position_age_seconds"))
    assert replayed == answered  # the first answer, its position's age told as of now
    assert again.headers["idempotent-replayed"] == "true"
    other = await network.http.post(
        "/v1/alerts", json=alert_body(headline="something else"), headers=headers
    )
    assert other.status_code == 409
    listed = (await network.http.get("/v1/alerts", headers=duty)).json()["items"]
    assert len(listed) == 1
    other_client = await network.headers(Role.AGENCY_ADMIN, "BD-CG")
    separate = await network.http.post(
        "/v1/alerts",
        json=alert_body(),
        headers={**other_client, "Idempotency-Key": "bd-cg-2026-11-23-001"},
    )
    assert separate.json()["id"] != first.json()["id"]


async def test_exercise_traffic_is_kept_apart(network: Network, duty: dict[str, str]) -> None:
    await network.http.post("/v1/alerts", json=alert_body(status="exercise"), headers=duty)
    actual = (await network.http.post("/v1/alerts", json=alert_body(), headers=duty)).json()
    default = (await network.http.get("/v1/alerts", headers=duty)).json()["items"]
    assert [d["id"] for d in default] == [actual["id"]]
    exercise = (await network.http.get("/v1/alerts?status=exercise", headers=duty)).json()["items"]
    assert [d["status"] for d in exercise] == ["exercise"]


async def test_wrong_kind_or_unknown_id_is_404(network: Network, duty: dict[str, str]) -> None:
    doc = (await network.http.post("/v1/alerts", json=alert_body(), headers=duty)).json()
    wrong = await network.http.get(f"/v1/distress-reports/{doc['id']}", headers=duty)
    assert wrong.status_code == 404
    unknown = await network.http.get(
        "/v1/alerts/00000000-0000-4000-8000-000000000000", headers=duty
    )
    assert unknown.status_code == 404
    bad = await network.http.get("/v1/alerts/not-a-uuid", headers=duty)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "path.record_id"
