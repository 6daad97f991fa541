"""Targeted acknowledgements: `ack_required_from` names agencies that can read the record,
`ack_due_minutes` sets a deadline, `GET …/acks` answers `due_at` and `overdue`, and one
`*.ack_overdue` event reaches the sender and the pending agencies only, exactly once, driven by
the dispatcher on a test clock (tests/hooks.py). SQLite and PostgreSQL."""

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, func
from sqlmodel import Session, col, select

from core.clock import iso
from core.db import normalize_url
from delivery.dispatcher import Dispatcher
from models.enums import Role
from models.events import Event
from services.records import acks
from services.records.overdue import send_overdue
from tests.hooks import Hooks
from tests.support import Network, alert_body, distress_body

ALERTS = "/v1/alerts"
NETWORK = {"distribution": "network", "tlp": "amber"}
TARGETED = {**NETWORK, "ack_required": True, "ack_required_from": ["TH-MECC", "MY-MMEA"]}


async def _post(network: Network, path: str, body: dict[str, Any]) -> dict[str, Any]:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    response = await network.http.post(path, json=body, headers=sender)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _acks(network: Network, path: str, agency: str = "BD-CG") -> dict[str, Any]:
    headers = await network.headers(Role.DUTY_OFFICER, agency)
    response = await network.http.get(f"{path}/acks", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _ack(network: Network, path: str, agency: str) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, agency)
    response = await network.http.post(f"{path}/acks", json={}, headers=headers)
    assert response.status_code == 201, response.text


def _overdue_events(network: Network) -> list[Event]:
    query = select(Event).where(col(Event.type).endswith(".ack_overdue"))
    return list(network.db.run_read(lambda session: session.exec(query).all()))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("handling", "field", "message"),
    [
        (
            {"distribution": "national", "ack_required": True, "ack_required_from": ["MY-MMEA"]},
            "handling.ack_required_from",
            "cannot read",
        ),
        (
            {**TARGETED, "ack_required_from": ["XX-NONE"]},
            "handling.ack_required_from",
            "not in the registry",
        ),
        ({**TARGETED, "ack_required_from": ["BD-CG"]}, "handling.ack_required_from", "sender"),
        ({**TARGETED, "ack_required_from": ["RSO"]}, "handling.ack_required_from", "secretariat"),
        ({**NETWORK, "ack_required_from": ["MY-MMEA"]}, "handling", "needs ack_required"),
        ({**NETWORK, "ack_due_minutes": 30}, "handling", "needs ack_required"),
        ({**TARGETED, "ack_due_minutes": 0}, "handling.ack_due_minutes", ""),
        ({**TARGETED, "ack_due_minutes": 10081}, "handling.ack_due_minutes", ""),
        ({**TARGETED, "ack_due_minutes": "30"}, "handling.ack_due_minutes", ""),
        ({**TARGETED, "ack_required_from": ["not a code"]}, "handling.ack_required_from.0", ""),
    ],
)
async def test_bad_targets_are_refused_naming_the_field(
    network: Network, handling: dict[str, Any], field: str, message: str
) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    for path, body in (
        (ALERTS, alert_body(handling=handling)),
        ("/v1/distress-reports", distress_body(handling=handling)),
    ):
        response = await network.http.post(path, json=body, headers=sender)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        errors = response.json()["errors"]
        assert any(e["field"] == field and message in e["message"] for e in errors), errors
        assert (await network.http.get(path, headers=sender)).json()["items"] == []


async def test_an_update_that_hides_a_required_agency_is_refused(network: Network) -> None:
    alert = await _post(network, ALERTS, alert_body(handling=TARGETED))
    url = f"{ALERTS}/{alert['id']}"
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    narrowed = {"handling": {"distribution": "national"}}  # MY-MMEA and TH-MECC could not read
    response = await network.http.patch(url, json=narrowed, headers=sender)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"handling.ack_required_from"}
    assert (await network.http.get(url, headers=sender)).json()["version"] == 1


async def test_pending_are_the_required_agencies_with_a_deadline(
    network: Network, hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acks, "utcnow", hooks.clock)  # the acks answer reads the test clock
    alert = await _post(network, ALERTS, alert_body(handling={**TARGETED, "ack_due_minutes": 20}))
    url = f"{ALERTS}/{alert['id']}"
    assert alert["handling"]["ack_required_from"] == ["MY-MMEA", "TH-MECC"]
    before = await _acks(network, url)
    assert before["pending"] == ["MY-MMEA", "TH-MECC"]  # not every reader: the named ones
    assert _time(before["due_at"]) == _time(alert["created_at"]) + timedelta(minutes=20)
    assert before["overdue"] is False
    await _ack(network, url, "MY-MRCC")  # any reader may acknowledge; it is not required
    await _ack(network, url, "MY-MMEA")
    hooks.clock.advance(19 * 60)
    almost = await _acks(network, url)
    assert almost["pending"] == ["TH-MECC"]
    assert almost["overdue"] is False
    assert [a["agency"] for a in almost["acknowledged"]] == ["MY-MRCC", "MY-MMEA"]
    hooks.clock.advance(61)
    late = await _acks(network, url)
    assert late["overdue"] is True
    assert late["due_at"] == before["due_at"]
    await _ack(network, url, "TH-MECC")
    done = await _acks(network, url)
    assert done["pending"] == []
    assert done["overdue"] is False  # nobody is pending any more


async def test_defaults_and_what_moves_the_deadline(network: Network) -> None:
    report = await _post(
        network, "/v1/distress-reports", distress_body(handling={**NETWORK, "ack_required": True})
    )
    assert report["handling"]["ack_due_minutes"] == 30  # the distress default
    url = f"/v1/distress-reports/{report['id']}"
    first = await _acks(network, url)
    assert _time(first["due_at"]) == _time(report["created_at"]) + timedelta(minutes=30)
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    other = await network.http.patch(url, json={"actions_taken": "aircraft"}, headers=sender)
    assert other.status_code == 200
    assert (await _acks(network, url))["due_at"] == first["due_at"]  # left alone: kept
    sooner = {"handling": {"ack_due_minutes": 5}}
    moved = await network.http.patch(url, json=sooner, headers=sender)
    assert moved.status_code == 200, moved.text
    due = (await _acks(network, url))["due_at"]
    assert _time(due) == _time(moved.json()["updated_at"]) + timedelta(minutes=5)
    off = {"handling": {"ack_required": False, "ack_due_minutes": None}}
    assert (await network.http.patch(url, json=off, headers=sender)).status_code == 200
    assert await _acks(network, url) == {
        "acknowledged": [],
        "pending": [],
        "due_at": None,
        "overdue": False,
    }
    alert = await _post(network, ALERTS, alert_body(handling={**NETWORK, "ack_required": True}))
    assert alert["handling"]["ack_due_minutes"] is None  # alerts: no default deadline
    assert (await _acks(network, f"{ALERTS}/{alert['id']}"))["due_at"] is None


async def test_one_overdue_event_to_the_sender_and_the_pending_only(
    hooks: Hooks, app: FastAPI
) -> None:
    network = hooks.network
    wanted = ["alert.ack_overdue", "distress.ack_overdue"]
    for agency in ("BD-CG", "TH-MECC", "MY-MMEA", "MY-MRCC"):
        await hooks.subscribe(agency, f"/{agency}", event_types=wanted)
    alert = await _post(network, ALERTS, alert_body(handling={**TARGETED, "ack_due_minutes": 10}))
    url = f"{ALERTS}/{alert['id']}"
    await _ack(network, url, "MY-MMEA")
    await hooks.pump()
    hooks.clock.advance(9 * 60)
    await hooks.pump()
    assert hooks.receiver.received == []  # not yet due
    hooks.clock.advance(61)
    await hooks.pump()
    assert sorted(r.path for r in hooks.receiver.received) == ["/BD-CG", "/TH-MECC"]
    for delivery in hooks.receiver.received:
        # signed at the test clock's time, beyond the library's tolerance: read it as sent
        event = json.loads(delivery.body)
        assert event["type"] == "alert.ack_overdue"
        assert event["data"]["id"] == alert["id"]
        assert event["data"]["ack_overdue"]["pending"] == ["TH-MECC"]
        assert event["data"]["ack_overdue"]["due_at"] == (await _acks(network, url))["due_at"]
    # the feed: the sender and the pending agency see it; a reader that acknowledged, or
    # that was never asked, does not
    for agency, sees in (
        ("BD-CG", True),
        ("TH-MECC", True),
        ("MY-MMEA", False),
        ("MY-MRCC", False),
    ):
        headers = await network.headers(Role.DUTY_OFFICER, agency)
        feed = (await network.http.get("/v1/feed?after=0", headers=headers)).json()
        types = [e["type"] for e in feed["events"]]
        assert ("alert.ack_overdue" in types) is sees, (agency, types)
    # once: more rounds, a later clock and a freshly started dispatcher send nothing more
    hooks.clock.advance(3600)
    await hooks.pump()
    runtime = app.state.runtime
    restarted = Dispatcher(
        runtime.db, runtime.webhooks.policy.box, hooks.dispatcher.transport, clock=hooks.clock
    )
    while await restarted.tick():
        await restarted.drain()
    await restarted.drain()
    assert len(hooks.receiver.received) == 2
    assert len(_overdue_events(network)) == 1


async def test_an_overdue_distress_report_is_not_told_to_every_mrcc(hooks: Hooks) -> None:
    """The safety-of-life floor lets every MRCC read an actual distress report; the overdue
    notice is addressed to the sender and the pending agencies only."""
    network = hooks.network
    handling = {
        **NETWORK,
        "ack_required": True,
        "ack_required_from": ["MY-MMEA"],
        "ack_due_minutes": 1,
    }
    report = await _post(network, "/v1/distress-reports", distress_body(handling=handling))
    hooks.clock.advance(61)
    await hooks.pump()
    for agency, sees in (
        ("MY-MMEA", True),
        ("BD-CG", True),
        ("MY-MRCC", False),
        ("TH-MRCC", False),
    ):
        headers = await network.headers(Role.DUTY_OFFICER, agency)
        feed = (await network.http.get("/v1/feed?after=0", headers=headers)).json()
        overdue = [e for e in feed["events"] if e["type"] == "distress.ack_overdue"]
        assert len(overdue) == (1 if sees else 0), agency
        if sees:
            assert overdue[0]["data"]["id"] == report["id"]


async def test_no_overdue_event_when_all_acknowledged_cancelled_or_expired(hooks: Hooks) -> None:
    network = hooks.network
    handling = {**TARGETED, "ack_due_minutes": 1}
    acked = await _post(network, ALERTS, alert_body(handling=handling))
    for agency in ("MY-MMEA", "TH-MECC"):
        await _ack(network, f"{ALERTS}/{acked['id']}", agency)
    cancelled = await _post(network, ALERTS, alert_body(handling=handling))
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    url = f"{ALERTS}/{cancelled['id']}"
    assert (
        await network.http.post(f"{url}/cancel", json={"reason": "x"}, headers=sender)
    ).status_code == 200
    soon = (datetime.now().astimezone() + timedelta(seconds=30)).isoformat()
    await _post(network, ALERTS, alert_body(handling=handling, expires_at=soon))  # will expire
    hooks.clock.advance(120)
    await hooks.pump()
    assert _overdue_events(network) == []


async def test_two_sessions_never_both_send_it(network: Network, database_url: str) -> None:
    """The exactly-once unit: the cue is cleared in the transaction that emits the event, and a
    second worker's round skips a row the first holds (PostgreSQL: SKIP LOCKED) and finds no
    cue once the first commits. SQLite has one writer at a time, so there the rounds follow
    each other."""
    for _ in range(3):
        await _post(network, ALERTS, alert_body(handling={**TARGETED, "ack_due_minutes": 1}))
    later = datetime.now().astimezone() + timedelta(minutes=2)
    engine = create_engine(normalize_url(database_url))
    try:
        with Session(engine) as first:
            assert send_overdue(first, later, chunk=2) == 2  # a bounded chunk
            if engine.dialect.name == "postgresql":
                with Session(engine) as second:  # while the first holds its rows
                    # a round that waited for them instead would fail here, not hang
                    second.connection().exec_driver_sql("SET LOCAL lock_timeout = '3s'")
                    assert send_overdue(second, later) == 1  # only the third
                    second.commit()
            first.commit()
        with Session(engine) as third:
            assert send_overdue(third, later) == (0 if engine.dialect.name == "postgresql" else 1)
            third.commit()
        with Session(engine) as fourth:
            assert send_overdue(fourth, later) == 0
            count = fourth.exec(
                select(func.count())
                .select_from(Event)
                .where(col(Event.type) == "alert.ack_overdue")
            ).one()
    finally:
        engine.dispose()
    assert count == 3


async def test_a_deadline_passed_while_expired_is_told_once_the_record_is_extended(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alert that had expired by its acknowledgement deadline is not watched then, and the
    round clears its cue telling nobody. Its sender then extends it: the acknowledgements
    showed `overdue: true` for good, but no `*.ack_overdue` was ever sent. Now the update
    that makes it watched again brings the notice back to the next round, once."""
    network = hooks.network
    monkeypatch.setattr(acks, "utcnow", hooks.clock)
    handling = {**TARGETED, "ack_due_minutes": 10}
    soon = iso(hooks.clock() + timedelta(minutes=5))
    alert = await _post(network, ALERTS, alert_body(handling=handling, expires_at=soon))
    url = f"{ALERTS}/{alert['id']}"
    hooks.clock.advance(11 * 60)  # expired at 5 min, due at 10
    await hooks.pump()
    assert _overdue_events(network) == []
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    later = iso(hooks.clock() + timedelta(days=1))
    extended = await network.http.patch(url, json={"expires_at": later}, headers=sender)
    assert extended.status_code == 200, extended.text
    assert (await _acks(network, url))["overdue"] is True
    await hooks.pump()
    [notice] = _overdue_events(network)
    assert json.loads(notice.data)["ack_overdue"]["pending"] == ["MY-MMEA", "TH-MECC"]
    extended = await network.http.patch(
        url, json={"expires_at": iso(hooks.clock() + timedelta(days=2))}, headers=sender
    )
    assert extended.status_code == 200, extended.text
    hooks.clock.advance(60)
    await hooks.pump()
    assert len(_overdue_events(network)) == 1  # once
