"""A hostile request cannot poison the audit trail: not its own row, not anyone else's.

A real uvicorn server takes hostile requests as raw bytes (NUL, 12,000-character paths, long
segments, odd UTF-8, a huge client id, a huge request id, a junk bearer token) at the same
time as ordinary reads, so their audit rows share the writer's batches.
"""

import asyncio
import base64
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel import col, select

from models.audit import AuditEvent
from models.enums import Role
from services.audit import trail
from tests.served import raw_request, serving
from tests.support import Network

ROUNDS = 3
ORDINARY_PER_ROUND = 20


def _basic(client_id: bytes) -> bytes:
    return b"authorization: Basic " + base64.b64encode(client_id + b":not-the-secret")


TOKEN_FORM = b"grant_type=client_credentials&client_secret=x&client_id="
HOSTILE: dict[str, tuple[bytes, bytes]] = {  # name: (request head, body)
    "NUL": (b"GET /v1/%00 HTTP/1.1", b""),
    "NUL in a record id": (b"GET /v1/alerts/%00%00x HTTP/1.1", b""),
    "NUL in a version": (b"GET /v1/alerts/a/versions/%00 HTTP/1.1", b""),
    "12k path": (b"GET /v1/" + b"a" * 12_000 + b" HTTP/1.1", b""),
    "12k record id": (b"GET /v1/alerts/" + b"%01" * 4_000 + b" HTTP/1.1", b""),
    "long segment": (b"GET /v1/" + b"s" * 41 + b"/x HTTP/1.1", b""),
    "lone surrogate": (b"GET /v1/alerts/%ED%A0%80 HTTP/1.1", b""),
    "overlong UTF-8": (b"GET /v1/%C0%AF%C0%AE%E0%80%AF HTTP/1.1", b""),
    "RTL override": (b"GET /v1/alerts/%E2%80%AEfdp.exe%E2%80%8F HTTP/1.1", b""),
    "huge client_id, Basic": (
        b"POST /v1/auth/token HTTP/1.1\r\n"
        + _basic(b"%00" + b"c" * 12_000)
        + b"\r\ncontent-type: application/x-www-form-urlencoded",
        b"grant_type=client_credentials",
    ),
    "huge client_id, form": (
        b"POST /v1/auth/token HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded",
        TOKEN_FORM + b"%00" * 3 + b"c" * 12_000,
    ),
    "control chars in client_id": (
        b"POST /v1/auth/token HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded",
        TOKEN_FORM + b"%00%1B%5B2J%E2%80%AEx",
    ),
    "huge X-Request-ID": (b"GET /v1/alerts HTTP/1.1\r\nx-request-id: " + b"r" * 12_000, b""),
    "junk bearer": (
        b"GET /v1/alerts HTTP/1.1\r\nauthorization: Bearer " + b"\xe2\x80\xae\xc3\xa9%00." * 1_000,
        b"",
    ),
}
AUTHENTICATED = {  # name: (whose genuine token, request line)
    "NUL in a record id, with a token": (Role.VIEWER, b"GET /v1/alerts/%00 HTTP/1.1"),
    "12k record id, with a token": (
        Role.VIEWER,
        b"GET /v1/alerts/" + b"%E2%80%AE" * 3_000 + b" HTTP/1.1",
    ),
    "long id, with a token": (
        Role.VIEWER,
        b"GET /v1/subscriptions/" + b"%C0%AF" * 100 + b" HTTP/1.1",
    ),
    "NUL in a cursor, with a token": (Role.VIEWER, b"GET /v1/alerts?cursor=%00 HTTP/1.1"),
    "NUL in an audit filter": (Role.AUDITOR, b"GET /v1/audit-events?action=%00 HTTP/1.1"),
    "NUL in an audit filter's name": (Role.AUDITOR, b"GET /v1/audit-events?%00=1 HTTP/1.1"),
}


def _is_clean(value: str) -> bool:
    return not any(unicodedata.category(char).startswith("C") for char in value)


def _rows_of(network: Network, request_ids: list[str]) -> list[AuditEvent]:
    return network.db.run_read(
        lambda s: list(
            s.exec(select(AuditEvent).where(col(AuditEvent.request_id).in_(request_ids))).all()
        )
    )


def _assert_fits_and_clean(row: AuditEvent) -> None:
    for column in AuditEvent.__table__.columns:  # type: ignore[attr-defined]
        value = getattr(row, column.name)
        if not isinstance(value, str):
            continue
        assert _is_clean(value), (column.name, value[:80])
        length = getattr(column.type, "length", None)  # AutoString is no String subclass
        if length is not None:
            assert len(value) <= length, (column.name, len(value))


def test_every_bounded_audit_column_is_clamped() -> None:
    """`fitted` clamps by SIZES; it once read no column at all (AutoString is a TypeDecorator,
    not a String), so a 65-character id overflowed `object_id` on PostgreSQL."""
    from services.audit.fields import SIZES, fitted

    assert {"object_id", "actor_client", "action", "request_id"} <= set(SIZES)
    assert fitted("object_id", "x" * 500) == "x" * SIZES["object_id"]


async def test_hostile_requests_poison_neither_the_trail_nor_their_neighbours(
    app: FastAPI, network: Network
) -> None:
    reader = await network.headers(Role.VIEWER, "MY-MMEA")
    requests = dict(HOSTILE)
    for name, (role, line) in AUTHENTICATED.items():
        token = (await network.headers(role, "MY-MMEA"))["Authorization"].encode()
        requests[name] = (line + b"\r\nauthorization: " + token, b"")
    async with serving(app) as port, httpx.AsyncClient(timeout=60) as http:
        ordinary: list[httpx.Response] = []
        hostile: dict[str, list[tuple[int, str]]] = {name: [] for name in requests}

        async def one_hostile(name: str) -> None:
            status, headers = await raw_request(port, *requests[name])
            hostile[name].append((status, headers.get("x-request-id", "")))

        for _ in range(ROUNDS):
            reads = [
                http.get(f"http://127.0.0.1:{port}/v1/alerts", headers=reader)
                for _ in range(ORDINARY_PER_ROUND)
            ]
            answered = await asyncio.gather(*reads, *(one_hostile(name) for name in requests))
            ordinary += [a for a in answered if isinstance(a, httpx.Response)]

    assert [r.status_code for r in ordinary] == [200] * ROUNDS * ORDINARY_PER_ROUND
    for name, answers in hostile.items():
        for status, request_id in answers:
            assert 400 <= status < 500, (name, status)
            assert request_id, name
            rows = _rows_of(network, [request_id])
            assert len(rows) == 1, (name, len(rows))
            assert rows[0].status_code == status, name
            _assert_fits_and_clean(rows[0])
    assert network.db.run_read(trail.verify).ok


REFUSE_SQLITE = (
    "CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_event WHEN NEW.object_id LIKE 'poison%'"
    " BEGIN SELECT RAISE(ABORT, 'row refused'); END"
)
REFUSE_POSTGRES = (
    "CREATE FUNCTION audit_refuse() RETURNS trigger AS $$ BEGIN"
    " IF NEW.object_id LIKE 'poison%' THEN RAISE EXCEPTION 'row refused'; END IF;"
    " RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_event"
    " FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
)


@contextmanager
def refusing_rows(network: Network) -> Iterator[None]:
    """The database refuses any audit row whose object_id starts with "poison", as
    PostgreSQL refused a row holding a NUL: for reasons of that row alone."""
    engine = network.db.write_engine
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        for statement in REFUSE_POSTGRES if postgres else (REFUSE_SQLITE,):
            connection.execute(text(statement))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DROP TRIGGER audit_refuse" + (" ON audit_event" if postgres else ""))
            )
            if postgres:
                connection.execute(text("DROP FUNCTION audit_refuse()"))


async def test_a_refused_row_fails_alone_and_leaves_a_stand_in(
    app: FastAPI, network: Network
) -> None:
    """Rows refused by the database, batched with ordinary reads' rows: the reads answer
    200; each refused request is answered 400 and leaves one content-free row instead."""
    reader = await network.headers(Role.VIEWER, "MY-MMEA")
    refused: list[httpx.Response] = []
    ordinary: list[httpx.Response] = []
    with refusing_rows(network):
        async with serving(app) as port, httpx.AsyncClient(timeout=60) as http:
            base = f"http://127.0.0.1:{port}/v1"
            for round_ in range(ROUNDS):
                answers = await asyncio.gather(
                    *(http.get(f"{base}/alerts", headers=reader) for _ in range(20)),
                    *(http.get(f"{base}/agencies/poison-{round_}-{n}") for n in range(5)),
                )
                ordinary += answers[:20]
                refused += answers[20:]
    assert [r.status_code for r in ordinary] == [200] * len(ordinary)
    for answer in refused:
        assert answer.status_code == 400, answer.text
        problem = answer.json()
        assert problem["type"] == "urn:rilon:problem:unauditable-request"
        assert problem["request_id"] == answer.headers["x-request-id"]
        rows = _rows_of(network, [answer.headers["x-request-id"]])
        assert [(r.action, r.status_code, r.object_id, r.detail) for r in rows] == [
            ("unauditable request", 400, None, "{}")
        ]
    assert network.db.run_read(trail.verify).ok


async def test_control_characters_in_a_url_are_a_4xx_naming_them(network: Network) -> None:
    """PostgreSQL cannot compare a NUL: a filter or id holding one was a 500 there."""
    auditor = await network.headers(Role.AUDITOR, "MY-MMEA")
    viewer = await network.headers(Role.VIEWER, "MY-MMEA")
    for path, headers in (
        ("/v1/audit-events?object_id=%00", auditor),
        ("/v1/audit-events?action=a%1Bb", auditor),
        ("/v1/alerts?category=%00", viewer),
    ):
        answer = await network.http.get(path, headers=headers)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["errors"][0]["field"] == "query." + path.split("?")[1].split("=")[0]
    reader = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")  # holds each route's scope
    for path, field in (
        ("/v1/agencies/%00", "path.code"),
        ("/v1/subscriptions/a%00b", "path.subscription_id"),
        ("/v1/alerts/%07", "path.record_id"),
    ):
        answer = await network.http.get(path, headers=reader)
        assert answer.status_code == 422, (path, answer.text)
        assert [e["field"] for e in answer.json()["errors"]] == [field], path
        assert answer.json()["request_id"] == answer.headers["x-request-id"]
