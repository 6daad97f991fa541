"""A caller's standing (client active, token not revoked, agency as the token says) is checked
before anything is written or answered: a write checks it in its own transaction, any other
request with its audit row as the answer is about to go out (api/deps.py, api/auditing.py)."""

from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

from api.auditing import append_checked
from api.routers import subscriptions
from auth.principal import Claims
from auth.tokens import TokenKeys, decode_token, issue_token
from core.db import Database
from core.settings import Settings
from models.audit import AuditEvent
from models.enums import AgencyType, Role, Scope
from models.records import Record
from models.registry import Agency
from services.audit import trail
from services.registry import members
from services.registry.tokens import load_principal, revoke, why_refused
from tests.support import Network, alert_body, handling


async def _published(network: Network) -> str:
    sender = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    body = alert_body(handling=handling("network"))
    response = await network.http.post("/v1/alerts", json=body, headers=sender)
    assert response.status_code == 201, response.text
    record_id: str = response.json()["id"]
    return record_id


async def _revoked(network: Network) -> dict[str, str]:
    """A MY duty officer's token (it may read the network alert), then revoked."""
    token = await network.token(network.role(Role.DUTY_OFFICER, "MY-MMEA"))
    headers = {"Authorization": f"Bearer {token}"}
    assert (await network.http.get("/v1/alerts", headers=headers)).status_code == 200
    revoked = await network.http.post("/v1/auth/revoke", data={"token": token}, headers=headers)
    assert revoked.json() == {"revoked": True}
    return headers


def _audit_row(db: Database, response: httpx.Response) -> Any:
    request_id = response.headers["x-request-id"]
    with Session(db.engine) as session:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.request_id == request_id)  # type: ignore[arg-type]
        ).all()
    assert len(rows) == 1
    return rows[0][0]


def _count(db: Database) -> int:
    with Session(db.engine) as session:
        return int(session.execute(select(func.count()).select_from(Record)).scalar_one())


def _assert_refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    problem = response.json()
    assert problem["detail"] == problem["error_description"] == reason  # as OAuth2 clients show it
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_a_revoked_token_is_answered_nothing_but_401(network: Network, db: Database) -> None:
    record_id = await _published(network)
    headers = await _revoked(network)
    for path in (f"/v1/alerts/{record_id}", "/v1/alerts", f"/v1/alerts/{record_id}/versions"):
        response = await network.http.get(path, headers=headers)
        _assert_refused(response, "token revoked")
        assert "headline" not in response.text  # the answer it replaced never went out
        row = _audit_row(db, response)
        assert (row.status_code, row.outcome) == (401, "denied")
        assert row.detail == "{}"  # no ids: nothing was disclosed


async def test_a_revoked_token_writes_nothing(network: Network, db: Database) -> None:
    record_id = await _published(network)
    headers = await _revoked(network)
    before = _count(db)
    body = alert_body(handling=handling("network"))
    response = await network.http.post("/v1/alerts", json=body, headers=headers)
    _assert_refused(response, "token revoked")
    ack = await network.http.post(f"/v1/alerts/{record_id}/acks", json={}, headers=headers)
    _assert_refused(ack, "token revoked")
    assert _count(db) == before
    sender = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    acks = await network.http.get(f"/v1/alerts/{record_id}/acks", headers=sender)
    assert acks.json()["acknowledged"] == []
    for refused in (response, ack):
        row = _audit_row(db, refused)
        assert (row.status_code, row.outcome, row.actor_agency) == (401, "denied", "MY-MMEA")


async def test_invalid_input_from_a_revoked_token_is_401_not_422(network: Network) -> None:
    headers = await _revoked(network)
    response = await network.http.post("/v1/alerts", json={"category": "nonsense"}, headers=headers)
    _assert_refused(response, "token revoked")


async def test_a_deactivated_client_is_refused_on_reads_and_writes(network: Network) -> None:
    record_id = await _published(network)
    cred = network.role(Role.DUTY_OFFICER, "MY-MMEA")
    headers = {"Authorization": f"Bearer {await network.token(cred)}"}
    admin = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    assert (await network.http.delete(f"/v1/clients/{cred.client_id}", headers=admin)).is_success
    _assert_refused(
        await network.http.get(f"/v1/alerts/{record_id}", headers=headers), "token revoked"
    )
    body = alert_body(handling=handling("network"))
    posted = await network.http.post("/v1/alerts", json=body, headers=headers)
    _assert_refused(posted, "token revoked")


async def test_an_agency_whose_type_changed_needs_a_new_token(
    network: Network, db: Database
) -> None:
    """The type decides what a caller reads (an MRCC reads every actual distress report):
    a token carries it, and a token whose agency's type changed is refused, read or write."""
    record_id = await _published(network)
    headers = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    assert (await network.http.get(f"/v1/alerts/{record_id}", headers=headers)).status_code == 200
    db.run_write(
        lambda session: session.execute(
            update(Agency).where(Agency.code == "MY-MMEA").values(type=AgencyType.MRCC)  # type: ignore[arg-type]
        )
    )
    reason = "token no longer matches the registry"
    _assert_refused(await network.http.get(f"/v1/alerts/{record_id}", headers=headers), reason)
    body = alert_body(handling=handling("network"))
    _assert_refused(await network.http.post("/v1/alerts", json=body, headers=headers), reason)


async def test_a_token_without_the_agency_type_is_checked_before_the_handler(
    network: Network, settings: Settings
) -> None:
    """Tokens issued before the type was a claim still work, looked up as they come in."""
    record_id = await _published(network)
    cred = network.role(Role.DUTY_OFFICER, "MY-MMEA")
    token, claims = issue_token(
        TokenKeys.from_settings(settings),
        client_id=cred.client_id,
        agency="MY-MMEA",
        country="MY",
        roles=[Role.DUTY_OFFICER],
        scopes=[Scope.ALERTS_READ, Scope.ALERTS_WRITE],
    )
    assert claims.agency_type is None
    headers = {"Authorization": f"Bearer {token}"}
    assert (await network.http.get(f"/v1/alerts/{record_id}", headers=headers)).status_code == 200
    gone = await network.http.post("/v1/auth/revoke", data={"token": token}, headers=headers)
    assert gone.json() == {"revoked": True}
    _assert_refused(
        await network.http.get(f"/v1/alerts/{record_id}", headers=headers), "token revoked"
    )


async def test_a_revoked_token_resolves_no_webhook_url(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing but the answer leaves the service before the standing is checked: not even a
    DNS lookup of the URL a subscription names."""
    vetted: list[str] = []

    async def vet_url(_resolver: object, url: str, _allow_http: bool) -> None:
        vetted.append(url)

    monkeypatch.setattr(subscriptions, "vet_url", vet_url)
    token = await network.token(network.role(Role.AGENCY_ADMIN, "MY-MMEA"))
    headers = {"Authorization": f"Bearer {token}"}
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}
    created = await network.http.post("/v1/subscriptions", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert vetted == ["http://127.0.0.1:9/hook"]
    revoked = await network.http.post("/v1/auth/revoke", data={"token": token}, headers=headers)
    assert revoked.json() == {"revoked": True}
    body["url"] = "https://rilon-nowhere.invalid/hook"
    response = await network.http.post("/v1/subscriptions", json=body, headers=headers)
    _assert_refused(response, "token revoked")
    patched = await network.http.patch(
        f"/v1/subscriptions/{created.json()['id']}", json={"url": body["url"]}, headers=headers
    )
    _assert_refused(patched, "token revoked")
    assert vetted == ["http://127.0.0.1:9/hook"]  # the revoked token's URL was never looked up


async def test_one_batch_checks_each_token_of_a_client_on_its_own(
    network: Network, db: Database, settings: Settings
) -> None:
    """The audit rows of a batch look each token up once (api/auditing.py): a revoked token
    beside good ones of the same client is still the only one refused."""
    cred = network.role(Role.DUTY_OFFICER, "MY-MMEA")
    good, bad = await network.token(cred, scope=Scope.ALERTS_READ.value), await network.token(cred)
    revoked = await network.http.post(
        "/v1/auth/revoke", data={"token": bad}, headers={"Authorization": f"Bearer {bad}"}
    )
    assert revoked.json() == {"revoked": True}
    keys = TokenKeys.from_settings(settings)
    order = [good, bad, good, bad, good]
    entry = trail.Entry(action="GET /v1/alerts", outcome="ok", status_code=200, detail={"ids": []})
    items: list[tuple[trail.Entry, Claims | None]] = [
        (replace(entry, request_id=f"r{n}"), decode_token(t, keys)) for n, t in enumerate(order)
    ]
    verdicts = db.run_write(lambda session: append_checked(session, items))
    assert verdicts == ["", "token revoked", "", "token revoked", ""]
    with Session(db.engine) as session:
        rows = session.execute(
            select(AuditEvent.request_id, AuditEvent.status_code)  # type: ignore[call-overload]
            .where(AuditEvent.request_id.in_([f"r{n}" for n in range(5)]))  # type: ignore[union-attr]
            .order_by(AuditEvent.request_id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("r0", 200),
        ("r1", 401),
        ("r2", 200),
        ("r3", 401),
        ("r4", 200),
    ]


async def test_a_change_of_standing_holds_for_the_rest_of_its_transaction(
    network: Network, db: Database, settings: Settings
) -> None:
    """The writer runs a batch's units in one transaction, and the standing each looks up is
    kept for the units after it (services/registry/tokens.py): a revocation, deactivation or
    reactivation earlier in the same transaction must hold for every lookup after it."""
    admin = network.role(Role.AGENCY_ADMIN, "MY-MMEA")
    officer = network.role(Role.DUTY_OFFICER, "MY-MMEA")
    keys = TokenKeys.from_settings(settings)
    own = decode_token(await network.token(officer), keys)
    other = decode_token(await network.token(officer, scope=Scope.ALERTS_READ.value), keys)
    manager = db.run_read(load_principal, decode_token(await network.token(admin), keys))

    def batch(session: Session) -> list[str]:
        seen = [why_refused(session, own), why_refused(session, other)]
        revoke(session, manager, own)
        seen += [why_refused(session, own), why_refused(session, other)]
        members.deactivate_client(session, manager, officer.client_id)
        seen.append(why_refused(session, other))
        members.reset_secret(session, officer.client_id)
        seen += [why_refused(session, other), why_refused(session, own)]
        return seen

    assert db.run_write(batch) == [
        "",
        "",
        "token revoked",
        "",
        "token revoked",
        "",
        "token revoked",
    ]
