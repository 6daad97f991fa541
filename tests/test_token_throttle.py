"""The token endpoint is no weapon: failures cost the source that makes them, never the client
they name; a flood from one source is refused cheaply and delays nobody else's token."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from sqlmodel import col, select

from api.app import create_app
from core.db import Database
from models.audit import AuditEvent
from models.enums import Role
from tests.conftest import make_settings
from tests.support import Network

TOKEN = "/v1/auth/token"
FLOOD = 40
Caller = Callable[[str], httpx.AsyncClient]


def _form(client_id: str, secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}


@asynccontextmanager
async def _service(database_url: str, tmp_path: Path, **overrides: object) -> AsyncIterator[Caller]:
    """An app with these settings, and an HTTP client per caller address."""
    application = create_app(make_settings(database_url, tmp_path, **overrides))
    clients: dict[str, httpx.AsyncClient] = {}

    def at(address: str) -> httpx.AsyncClient:
        if address not in clients:
            transport = httpx.ASGITransport(app=application, client=(address, 50000))
            clients[address] = httpx.AsyncClient(transport=transport, base_url="http://rilon.test")
        return clients[address]

    async with LifespanManager(application):
        try:
            yield at
        finally:
            for http in clients.values():
                await http.aclose()


async def test_wrong_secrets_never_spend_the_clients_budget(
    app_limited: httpx.AsyncClient, db: Database
) -> None:
    """Client ids are no secret: anyone failing on one must not use up its real system's
    budget (the `app_limited` fixture allows a client 2 requests, then 1 a minute)."""
    network = Network.seed(db, app_limited)
    target = network.role(Role.DUTY_OFFICER)
    wrong = [await app_limited.post(TOKEN, data=_form(target.client_id, "x")) for _ in range(5)]
    assert [answer.status_code for answer in wrong] == [401] * 5
    right = await app_limited.post(TOKEN, data=_form(target.client_id, target.secret))
    assert right.status_code == 200, right.text


async def test_a_source_over_its_failure_limit_is_refused_before_its_secret_is_checked(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    async with _service(
        database_url,
        tmp_path,
        token_source_failure_burst=3,
        token_source_failures_per_hour=1,
        token_max_backoff_seconds=3600,
    ) as at:
        attacker, bystander = at("198.51.100.7"), at("198.51.100.8")
        network = Network.seed(db, bystander)
        target = network.role(Role.VIEWER)
        guesses = [await attacker.post(TOKEN, data=_form(f"guess-{n}", "x")) for n in range(3)]
        assert [answer.status_code for answer in guesses] == [401] * 3
        refused = await attacker.post(
            TOKEN, data=_form(target.client_id, target.secret), headers={"X-Request-ID": "over"}
        )
        assert refused.status_code == 429, refused.text  # even the right secret, from there
        assert refused.headers["content-type"] == "application/problem+json"
        assert 3000 <= int(refused.headers["retry-after"]) <= 3600  # one failure back an hour
        problem = refused.json()
        assert (problem["status"], problem["error"]) == (429, "slow_down")
        assert problem["error_description"] == problem["detail"]
        assert problem["request_id"] == "over"
        # Another source is another bucket: its failures and its successes are its own.
        assert (await bystander.post(TOKEN, data=_form("guess-9", "x"))).status_code == 401
        right = await bystander.post(TOKEN, data=_form(target.client_id, target.secret))
        assert right.status_code == 200, right.text
    rows = db.run_read(
        lambda s: list(s.exec(select(AuditEvent).where(col(AuditEvent.request_id) == "over")))
    )
    assert [(row.action, row.outcome, row.status_code) for row in rows] == [
        ("POST /v1/auth/token", "denied", 429)
    ]


async def test_an_ipv6_source_is_its_64(database_url: str, tmp_path: Path, db: Database) -> None:
    """One holder usually gets a whole /64: its addresses are one source, not 2**64."""
    async with _service(
        database_url, tmp_path, token_source_failure_burst=2, token_source_failures_per_hour=1
    ) as at:
        Network.seed(db, at("2001:db8:1:2::1"))
        for address in ("2001:db8:1:2::1", "2001:db8:1:2::ff"):
            assert (await at(address).post(TOKEN, data=_form("guess", "x"))).status_code == 401
        third = await at("2001:db8:1:2:ffff::1").post(TOKEN, data=_form("guess", "x"))
        assert third.status_code == 429
        neighbour = await at("2001:db8:1:3::1").post(TOKEN, data=_form("guess", "x"))
        assert neighbour.status_code == 401


async def test_unknown_and_known_client_ids_are_answered_and_counted_alike(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    async with _service(
        database_url, tmp_path, token_source_failure_burst=2, token_source_failures_per_hour=1
    ) as at:
        attacker = at("198.51.100.7")
        network = Network.seed(db, attacker)
        known = network.role(Role.VIEWER).client_id
        answers = [
            await attacker.post(TOKEN, data=_form(client_id, "x"), headers={"X-Request-ID": "r"})
            for client_id in ("no-such-client", known)
        ]
        assert [answer.status_code for answer in answers] == [401, 401]
        assert answers[0].json() == answers[1].json()
        assert answers[0].headers == answers[1].headers
        third = await attacker.post(TOKEN, data=_form("no-such-client-either", "x"))
        assert third.status_code == 429  # each cost the source the same: one failure


async def test_failing_on_a_client_id_never_locks_out_its_right_secret(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    """Sources failing on one id are shut out faster and longer each time (past the id's
    allowance of 2, each failure costs its source twice the one before), while the right
    secret from any source not itself shut out still gets its token."""
    async with _service(
        database_url,
        tmp_path,
        token_client_failure_burst=2,
        token_client_failures_per_hour=1,
        token_source_failure_burst=4,
        token_source_failures_per_hour=60,
        token_max_backoff_seconds=3600,
    ) as at:
        network = Network.seed(db, at("192.0.2.1"))
        target = network.role(Role.DUTY_OFFICER)
        afterwards = []
        for n in range(7):
            source = at(f"203.0.113.{n + 1}")
            failed = await source.post(TOKEN, data=_form(target.client_id, "wrong"))
            assert failed.status_code == 401
            right = await source.post(TOKEN, data=_form(target.client_id, target.secret))
            afterwards.append((right.status_code, int(right.headers.get("retry-after", 0))))
        assert [status for status, _ in afterwards] == [200, 200, 200, 429, 429, 429, 429]
        waits = [wait for _, wait in afterwards[3:]]
        assert waits == sorted(set(waits)), waits  # longer every time
        assert waits[-1] >= 16 * waits[0] - 60, waits
        fresh = await at("192.0.2.99").post(TOKEN, data=_form(target.client_id, target.secret))
        assert fresh.status_code == 200, fresh.text


async def test_a_junk_flood_from_one_source_does_not_starve_a_real_request(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    """40 concurrent requests with random client ids from one source: a few are checked and
    fail, the rest are refused before any Argon2 work; a real request from elsewhere meanwhile
    gets its token; and every one of them leaves its audit row."""
    async with _service(database_url, tmp_path, token_source_failure_burst=5) as at:
        junk, real = at("198.51.100.66"), at("198.51.100.1")
        network = Network.seed(db, real)
        target = network.role(Role.VIEWER)
        flood = [
            asyncio.create_task(junk.post(TOKEN, data=_form(f"junk-{n}", "x")))
            for n in range(FLOOD)
        ]
        await asyncio.wait(flood, return_when=asyncio.FIRST_COMPLETED)
        answer = await asyncio.wait_for(
            real.post(TOKEN, data=_form(target.client_id, target.secret)), timeout=30
        )
        assert answer.status_code == 200, answer.text
        statuses = Counter(response.status_code for response in await asyncio.gather(*flood))
    assert set(statuses) == {401, 429}, statuses
    assert statuses[401] <= 5 + 2, statuses  # the burst, and what was in the 2 slots meanwhile
    rows = db.run_read(
        lambda s: list(
            s.exec(select(AuditEvent.status_code).where(col(AuditEvent.action) == "POST " + TOKEN))
        )
    )
    assert Counter(rows) == statuses + Counter({200: 1})
