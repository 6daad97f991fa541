"""Resource limits: oversized and pathological bodies, list limits, rate limits, caps."""

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import func, select

from api.app import create_app
from core.db import Database
from models.enums import Role
from models.records import Record
from models.subscriptions import Subscription
from tests.conftest import make_settings
from tests.processes import HOST, child_env, run, supervised
from tests.support import Network, alert_body

MB = 1024 * 1024
CHUNK = b"x" * 65536


def _records(db: Database) -> int:
    return db.run_read(lambda s: s.exec(select(func.count()).select_from(Record)).one())


async def _chunks(total: int) -> AsyncIterator[bytes]:
    """`total` bytes without ever holding more than one 64 KiB chunk."""
    for _ in range(total // len(CHUNK)):
        yield CHUNK


@pytest.mark.parametrize("size", [5 * MB, 50 * MB], ids=["5MB", "50MB"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_oversized_bodies_are_413_and_write_nothing(
    network: Network, size: int, declared: bool
) -> None:
    headers = {**await network.headers(Role.DUTY_OFFICER), "content-type": "application/json"}
    if declared:
        headers["content-length"] = str(size)
    started = time.monotonic()
    response = await network.http.post("/v1/alerts", content=_chunks(size), headers=headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413
    assert time.monotonic() - started < 2  # refused at the cap, not after reading it all
    assert _records(network.db) == 0


def _rss_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None, field
    return int(found[1])


def _send_raw(port: int, head: bytes, chunks: Iterator[bytes]) -> bytes:
    """Send a request over a plain socket, reading the answer while still sending: a server
    that refuses early answers and closes; whatever is left to send then fails, as it should."""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while block := sock.recv(65536):
                answer += block
        except ConnectionResetError:
            pass
        return answer


def _body(size: int, chunked: bool) -> Iterator[bytes]:
    for _ in range(size // len(CHUNK)):
        yield b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
    if chunked:
        yield b"0\r\n\r\n"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_50mb_upload_leaves_a_real_servers_memory_flat(
    tmp_path: Path, chunked: bool
) -> None:
    """A real uvicorn server: its peak RSS (VmHWM, reset just before) while an unauthenticated
    client pushes 50 MB at POST /v1/alerts grows by well under the body's size."""
    size = 50 * MB
    url = f"sqlite:///{tmp_path}/rilon.db"
    env = child_env(url, tmp_path)
    await run(tmp_path, env, "db", "upgrade")
    with supervised(tmp_path, env) as processes:
        server = processes.add("api", "serve", "--no-dispatcher")
        await server.start()
        assert server.popen is not None
        pid = server.popen.pid
        framing = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % size
        head = (
            b"POST /v1/alerts HTTP/1.1\r\nhost: rilon.test\r\n"
            b"content-type: application/json\r\n" + framing + b"\r\n\r\n"
        )
        warm = await asyncio.to_thread(_send_raw, server.port, head, _body(2 * MB, chunked))
        assert warm.startswith(b"HTTP/1.1 413"), warm[:200]
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak to the current RSS
        before = _rss_kib(pid, "VmRSS")
        answer = await asyncio.to_thread(_send_raw, server.port, head, _body(size, chunked))
        peak = _rss_kib(pid, "VmHWM")
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 413 Request Entity Too Large", answer[:300]
        assert b"application/problem+json" in rest.lower()
        assert peak - before < 10 * 1024, (before, peak)
        healthy = httpx.get(server.url("/healthz"), timeout=5)
        assert healthy.status_code == 200


DEEP = {
    "100k [": b"[" * 100_000,
    "100k [ closed": b"[" * 100_000 + b"]" * 100_000,
    "100k { in labels": b'{"labels":' + b'{"a":' * 100_000,
    "labels nested 900": json.dumps(alert_body()).encode()[:-1]
    + b',"labels":'
    + b"[" * 900
    + b"]" * 900
    + b"}",
    "not UTF-8": b'{"headline": "\xff\xfe"}',
}


@pytest.mark.parametrize("body", DEEP.values(), ids=DEEP.keys())
async def test_deeply_nested_json_is_a_fast_422(network: Network, body: bytes) -> None:
    headers = {**await network.headers(Role.DUTY_OFFICER), "content-type": "application/json"}
    started = time.monotonic()
    response = await network.http.post("/v1/alerts", content=body, headers=headers)
    assert time.monotonic() - started < 2
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    fields = [error["field"] for error in response.json()["errors"]]
    assert any(field.startswith(("body", "labels")) for field in fields), fields
    assert _records(network.db) == 0


HUGE = {
    "1e6 labels": {"labels": ["a"] * 1_000_000},  # ~5 MB: over the body cap
    "1e6 vessels": {"vessels": [1] * 1_000_000},
    "200k labels": {"labels": [1] * 200_000},  # under the cap: one error, not 200k
    "100k vessels": {"vessels": [{}] * 100_000},
}


@pytest.mark.parametrize("changes", HUGE.values(), ids=HUGE.keys())
async def test_huge_arrays_are_refused_fast_with_a_short_answer(
    network: Network, changes: dict[str, object]
) -> None:
    headers = await network.headers(Role.DUTY_OFFICER)
    body = json.dumps(alert_body(**changes)).encode()
    started = time.monotonic()
    response = await network.http.post(
        "/v1/alerts", content=body, headers={**headers, "content-type": "application/json"}
    )
    assert time.monotonic() - started < 2
    assert response.status_code == (413 if len(body) > MB else 422), response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert len(response.content) < 4096  # no error per element
    assert _records(network.db) == 0


LIMITED_LISTS = {
    "/v1/alerts": 200,
    "/v1/distress-reports": 200,
    "/v1/geo/alerts": 200,
    "/v1/geo/distress-reports": 200,
    "/v1/feed": 500,
    "/v1/audit-events": 500,
}


@pytest.mark.parametrize("path", LIMITED_LISTS)
async def test_limit_out_of_range_is_422_naming_limit(network: Network, path: str) -> None:
    role = Role.AUDITOR if "audit" in path else Role.VIEWER
    headers = await network.headers(role)
    top = LIMITED_LISTS[path]
    for value in ("0", "-1", str(top + 1), str(10**20), "abc", "", "1.5", "1e3", "%00"):
        response = await network.http.get(f"{path}?limit={value}", headers=headers)
        assert response.status_code == 422, (path, value)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == ["query.limit"], (path, value)
    assert (await network.http.get(f"{path}?limit={top}", headers=headers)).status_code == 200


async def test_one_client_over_its_burst_leaves_the_others_alone(
    app_limited: httpx.AsyncClient, db: Database
) -> None:
    """Bursts of 2, then 1 a minute, per client (the `app_limited` fixture)."""
    network = Network.seed(db, app_limited)
    greedy = await network.headers(Role.VIEWER, "TH-MECC")
    patient = await network.headers(Role.VIEWER, "MY-MMEA")
    answers = [await app_limited.get("/v1/alerts", headers=greedy) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    retry_after = refused.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= 60
    other = await app_limited.get("/v1/alerts", headers=patient)
    assert other.status_code == 200
    still = await app_limited.get("/v1/auth/me", headers=greedy)
    assert still.status_code == 429  # every route counts against the same bucket


@pytest.fixture
async def capped(database_url: str, tmp_path: Path) -> AsyncIterator[Network]:
    """An app allowing 3 subscriptions per agency."""
    settings = make_settings(database_url, tmp_path, max_subscriptions_per_agency=3)
    application = create_app(settings)
    database = Database(database_url)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
            yield Network.seed(database, http)
    database.close()


def _subscriptions(db: Database, agency: str) -> int:
    return db.run_read(
        lambda s: s.exec(
            select(func.count()).select_from(Subscription).where(Subscription.agency == agency)
        ).one()
    )


async def test_subscriptions_per_agency_are_capped(capped: Network) -> None:
    admin = await capped.headers(Role.AGENCY_ADMIN, "TH-MECC")

    def hook(n: int) -> dict[str, object]:
        return {"url": f"http://127.0.0.1:9/hook/{n}", "event_types": ["*"]}

    created = await asyncio.gather(
        *(capped.http.post("/v1/subscriptions", json=hook(n), headers=admin) for n in range(6))
    )
    assert sorted(r.status_code for r in created) == [201, 201, 201, 409, 409, 409]
    refused = next(r for r in created if r.status_code == 409)
    assert refused.headers["content-type"] == "application/problem+json"
    assert "secret" not in refused.text
    assert _subscriptions(capped.db, "TH-MECC") == 3
    listed = await capped.http.get("/v1/subscriptions", headers=admin)
    assert len(listed.json()) == 3
    other = await capped.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    elsewhere = await capped.http.post("/v1/subscriptions", json=hook(9), headers=other)
    assert elsewhere.status_code == 201  # the cap is per agency
    gone = listed.json()[0]["id"]
    assert (await capped.http.delete(f"/v1/subscriptions/{gone}", headers=admin)).is_success
    again = await capped.http.post("/v1/subscriptions", json=hook(10), headers=admin)
    assert again.status_code == 201
