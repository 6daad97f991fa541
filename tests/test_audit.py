"""The audit trail: one row per request, all fields filled, scoped for auditors."""

import asyncio
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import or_, text
from sqlmodel import Session, col, func, select

from core.db import Database
from models.audit import AuditEvent
from models.enums import Role
from services.audit import listing, trail
from tests.support import Network, alert_body, handling


def _events_after(db: Database, seq: int) -> list[AuditEvent]:
    return db.run_read(
        lambda s: list(
            s.exec(
                select(AuditEvent).where(col(AuditEvent.seq) > seq).order_by(col(AuditEvent.seq))
            ).all()
        )
    )


def _seqs_of_country(session: Session, country: str) -> list[int]:
    """What an auditor of `country` may read (auth/policy.py `readable_audit`), by seq."""
    mine = or_(
        col(AuditEvent.actor_country) == country,
        col(AuditEvent.object_countries).contains(f",{country},"),
    )
    return list(session.exec(select(AuditEvent.seq).where(mine).order_by(col(AuditEvent.seq))))


def _head(db: Database) -> int:
    return db.run_read(lambda s: trail.head(s)[0])


async def test_a_scripted_session_leaves_exactly_its_rows(network: Network) -> None:
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    viewer = await network.headers(Role.VIEWER, "BD-CG")
    outsider = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    reader = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    cred = network.role(Role.VIEWER, "MY-MMEA")
    start = _head(network.db)
    http = network.http
    responses: list[tuple[httpx.Response, str, str]] = []  # response, outcome, action

    async def call(
        outcome: str, action: str, method: str, url: str, **kw: object
    ) -> httpx.Response:
        response = await http.request(method, url, **kw)  # type: ignore[arg-type]
        responses.append((response, outcome, action))
        return response

    body = alert_body(handling=handling("countries", recipient_countries=["MY"]))
    created = await call(
        "success", "POST /v1/alerts", "POST", "/v1/alerts", json=body, headers=duty
    )
    record = created.json()["id"]
    url = f"/v1/alerts/{record}"
    await call("success", "GET /v1/alerts/{record_id}", "GET", url, headers=reader)
    listed = await call("success", "GET /v1/alerts", "GET", "/v1/alerts", headers=reader)
    await call(
        "success",
        "PATCH /v1/alerts/{record_id}",
        "PATCH",
        url,
        json={"severity": "extreme"},
        headers=duty,
    )
    await call(
        "success", "GET /v1/alerts/{record_id}/versions", "GET", f"{url}/versions", headers=duty
    )
    await call("success", "GET /v1/alerts/{record_id}/cap", "GET", f"{url}/cap", headers=reader)
    await call("success", "GET /v1/geo/alerts", "GET", "/v1/geo/alerts", headers=reader)
    await call(
        "success",
        "POST /v1/alerts/{record_id}/acks",
        "POST",
        f"{url}/acks",
        json={},
        headers=reader,
    )
    await call("denied", "GET /v1/alerts/{record_id}", "GET", url, headers=outsider)
    await call("denied", "POST /v1/alerts", "POST", "/v1/alerts", json=body, headers=viewer)
    await call("denied", "GET /v1/auth/me", "GET", "/v1/auth/me")
    await call("error", "POST /v1/alerts", "POST", "/v1/alerts", json={"headline": 1}, headers=duty)
    await call("error", "GET (no route)", "GET", "/v1/no-such-thing", headers=duty)
    await call(
        "success",
        "POST /v1/auth/token",
        "POST",
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cred.client_id,
            "client_secret": cred.secret,
        },
    )
    await call(
        "denied",
        "POST /v1/auth/token",
        "POST",
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cred.client_id,
            "client_secret": "wrong",
        },
    )

    events = _events_after(network.db, start)
    assert len(events) == len(responses)
    by_request = {event.request_id: event for event in events}
    for response, outcome, action in responses:
        event = by_request[response.headers["x-request-id"]]
        assert event.status_code == response.status_code
        assert event.outcome == outcome, (action, response.status_code)
        assert event.action == action
        assert event.ip == "127.0.0.1"
        assert event.at is not None
        assert len(event.hash) == 64
        if action.startswith(("PATCH", "POST /v1/alerts/")) or response.status_code in (403, 404):
            assert event.actor_client, action
    read = by_request[responses[1][0].headers["x-request-id"]]
    assert (read.actor_agency, read.actor_country) == ("MY-MMEA", "MY")
    assert (read.object_type, read.object_id) == ("alerts", record)
    assert read.object_countries == ",BD,"
    listing = by_request[listed.headers["x-request-id"]]
    assert '"ids":["' + record + '"]' in listing.detail
    issued = by_request[responses[-2][0].headers["x-request-id"]]
    assert (issued.actor_client, issued.actor_agency) == (cred.client_id, "MY-MMEA")
    refused = by_request[responses[-1][0].headers["x-request-id"]]
    assert refused.actor_client is None
    assert cred.client_id in refused.detail
    assert db_verifies(network.db)


def db_verifies(db: Database) -> bool:
    return db.run_read(trail.verify).ok


async def test_auditors_see_their_country(network: Network) -> None:
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    my = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    th_alert = (
        await network.http.post(
            "/v1/alerts", json=alert_body(handling=handling("network")), headers=th
        )
    ).json()["id"]
    await network.http.get(f"/v1/alerts/{th_alert}", headers=my)  # MY reads a TH record
    await network.http.get("/v1/auth/me", headers=my)  # MY's own business
    auditor = await network.headers(Role.AUDITOR, "TH-MECC")
    seen = (await network.http.get("/v1/audit-events?limit=500", headers=auditor)).json()
    pairs = {(e["actor_agency"], e["action"], e["object_id"]) for e in seen["items"]}
    assert ("MY-MMEA", "GET /v1/alerts/{record_id}", th_alert) in pairs
    assert ("TH-MECC", "POST /v1/alerts", th_alert) in pairs
    assert not any(
        e["actor_agency"] == "MY-MMEA" and e["action"] == "GET /v1/auth/me" for e in seen["items"]
    )
    admin = await network.headers(Role.PLATFORM_ADMIN)
    everything = (
        await network.http.get("/v1/audit-events?limit=500&actor_agency=MY-MMEA", headers=admin)
    ).json()["items"]
    assert any(e["action"] == "GET /v1/auth/me" for e in everything)
    filtered = (
        await network.http.get(
            f"/v1/audit-events?object_id={th_alert}&outcome=success", headers=admin
        )
    ).json()
    assert {e["object_id"] for e in filtered["items"]} == {th_alert}
    for role in (Role.VIEWER, Role.DUTY_OFFICER, Role.AGENCY_ADMIN):
        denied = await network.http.get("/v1/audit-events", headers=await network.headers(role))
        assert denied.status_code == 403
    verified = (await network.http.get("/v1/audit-events/verify", headers=auditor)).json()
    assert verified["ok"] is True
    assert verified["first_bad_seq"] is None
    assert verified["checked"] >= 5


async def test_audit_pages_follow_the_cursor(network: Network) -> None:
    admin = await network.headers(Role.PLATFORM_ADMIN)
    for _ in range(5):
        await network.http.get("/v1/countries", headers=admin)
    seen: list[int] = []
    cursor = None
    while True:
        url = "/v1/audit-events?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await network.http.get(url, headers=admin)).json()
        seen += [event["seq"] for event in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) >= 5


async def test_an_auditor_of_a_quiet_country_walks_the_trail_a_stretch_a_page(
    network: Network, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page looks at `listing.WALK` rows of the trail at most (here 10): between a quiet
    country's rows, pages come back short or empty with a cursor that moved on, and
    following the cursors yields every row the auditor may see, in order, each once."""
    monkeypatch.setattr(listing, "WALK", 10)
    bd = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    my = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    auditor = await network.headers(Role.AUDITOR, "MY-MMEA")
    for i in range(60):
        await network.http.get("/v1/auth/me", headers=my if i in (7, 31, 32) else bd)
    seen: list[int] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = "/v1/audit-events?limit=5" + (f"&cursor={cursor}" if cursor else "")
        answer = await network.http.get(url, headers=auditor)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        seen += [event["seq"] for event in pages[-1]["items"]]
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            break
    visible = db.run_read(_seqs_of_country, "MY")
    assert seen == visible[:-1]  # all but the row of the last page's own read
    assert any(not page["items"] and page["next_cursor"] for page in pages)


async def test_a_failing_audit_write_fails_the_request(network: Network, database_url: str) -> None:
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    engine = network.db.write_engine
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if postgres:
            connection.execute(
                text(
                    "CREATE FUNCTION audit_fail() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER audit_fail BEFORE INSERT ON audit_event "
                    "FOR EACH ROW EXECUTE FUNCTION audit_fail()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER audit_fail BEFORE INSERT ON audit_event "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
            )
    try:
        posted = await network.http.post("/v1/alerts", json=alert_body(), headers=duty)
        assert posted.status_code == 503
        assert posted.headers["content-type"] == "application/problem+json"
        read = await network.http.get("/v1/alerts", headers=duty)
        assert read.status_code == 503
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DROP TRIGGER audit_fail" + (" ON audit_event" if postgres else ""))
            )
            if postgres:
                connection.execute(text("DROP FUNCTION audit_fail()"))
    listed = await network.http.get("/v1/alerts", headers=duty)
    assert listed.status_code == 200
    assert listed.json()["items"] == []


async def test_concurrent_writers_keep_one_linear_chain(database_url: str) -> None:
    """Four writers (as four processes would) appending at once: one chain, no gaps."""
    writers = [Database(database_url) for _ in range(4)]
    for db in writers:
        db.start()
    try:

        async def burst(db: Database, n: int) -> None:
            entries = [
                trail.Entry(action=f"test {n}.{i}", outcome="success", status_code=200)
                for i in range(40)
            ]
            await asyncio.gather(*(db.write(partial(trail.append, entry=e)) for e in entries))

        await asyncio.gather(*(burst(db, n) for n, db in enumerate(writers)))
        verdict = writers[0].run_read(trail.verify)
        count = writers[0].run_read(
            lambda s: s.exec(select(func.count()).select_from(AuditEvent)).one()
        )
    finally:
        for db in writers:
            db.close()
    assert verdict.ok, verdict
    assert verdict.checked == count == 160


async def test_a_list_row_shows_each_auditor_only_its_countrys_record_ids(
    network: Network,
) -> None:
    """ID lists TH's and MY's records (and reads the feed): TH's auditor sees that row with
    TH's ids only, MY's with MY's; ID's auditor (its agency was shown them all) and the
    platform admin see every id. The stored row is untouched: the chain verifies."""
    posted: dict[str, str] = {}
    for agency, country in (("TH-MECC", "TH"), ("MY-MMEA", "MY")):
        sender = await network.headers(Role.DUTY_OFFICER, agency)
        body = alert_body(handling=handling("network"))
        answer = await network.http.post("/v1/alerts", json=body, headers=sender)
        posted[country] = answer.json()["id"]
    lister = await network.headers(Role.DUTY_OFFICER, "ID-BASARNAS")
    for path in ("/v1/alerts", "/v1/feed"):
        answer = await network.http.get(path, headers=lister)
        assert answer.status_code == 200

    everything = {"GET /v1/alerts": set(posted.values()), "GET /v1/feed": set(posted.values())}

    async def ids_shown(agency: str, role: Role = Role.AUDITOR) -> dict[str, set[str]]:
        reader = await network.headers(role, agency)
        url = "/v1/audit-events?actor_agency=ID-BASARNAS&limit=500"
        items = (await network.http.get(url, headers=reader)).json()["items"]
        return {e["action"]: set(e["detail"]["ids"]) for e in items if e["action"] in everything}

    assert await ids_shown("TH-MECC") == {action: {posted["TH"]} for action in everything}
    assert await ids_shown("MY-MMEA") == {action: {posted["MY"]} for action in everything}
    assert await ids_shown("ID-BASARNAS") == everything
    assert await ids_shown("RSO", Role.PLATFORM_ADMIN) == everything
    assert await ids_shown("BD-CG") == {}
    assert db_verifies(network.db)
