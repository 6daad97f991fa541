"""Every error is problem+json: 404, 405, 413, 422, 500 without internals."""

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from models.enums import Role
from tests.support import Network


async def test_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["instance"] == "/v1/nothing-here"
    wrong = await client.put("/v1/countries")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.headers["allow"] == "GET, POST"  # both routes at this path


async def test_body_over_the_cap_is_413(network: Network) -> None:
    admin = await network.headers(Role.PLATFORM_ADMIN)
    big = {"code": "QQ", "name": "x" * (1024 * 1024 + 10)}
    response = await network.http.post("/v1/countries", json=big, headers=admin)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    streamed = await network.http.post(
        "/v1/countries", content=chunks(), headers={**admin, "content-type": "application/json"}
    )
    assert streamed.status_code == 413
    countries = await network.http.get("/v1/countries", headers=admin)
    assert "QQ" not in countries.text


async def test_malformed_json_is_422(network: Network) -> None:
    admin = await network.headers(Role.PLATFORM_ADMIN)
    response = await network.http.post(
        "/v1/countries", content=b"{not json", headers={**admin, "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_unexpected_error_is_500_without_internals(app: FastAPI) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
        response = await http.get("/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internal detail" not in response.text
    assert response.json()["request_id"] == "req-42"


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id\n"})
    assert len(generated.headers["x-request-id"]) == 32


async def test_middleware_answers_carry_the_request_id(app: FastAPI, network: Network) -> None:
    """Answers made outside the route handlers (413 from the body cap, 500 from an escaped
    exception) quote the request id in the body and the header, as every other error does."""

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("unexpected")

    admin = await network.headers(Role.PLATFORM_ADMIN)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
        answers = [
            await http.post(
                "/v1/countries",
                content=b"{}",
                headers={**admin, "content-length": str(2 * 1024 * 1024), "x-request-id": "r-1"},
            ),
            await http.post(
                "/v1/countries",
                content=chunks(),
                headers={**admin, "content-type": "application/json", "x-request-id": "r-2"},
            ),
            await http.get("/v1/boom", headers={"x-request-id": "r-3"}),
        ]
    assert [a.status_code for a in answers] == [413, 413, 500]
    for n, answer in enumerate(answers, start=1):
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["request_id"] == f"r-{n}", answer.text
        assert answer.headers.get("x-request-id") == f"r-{n}", answer.headers
