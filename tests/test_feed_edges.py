"""The change feed under stress and against hostile callers: revoked tokens, abandoned and
crowded long polls."""

import asyncio
import time

from fastapi import FastAPI

from models.enums import Role
from tests.processes import HOST
from tests.served import serving
from tests.support import Network, alert_body, handling, until


async def _revoked_reader(network: Network) -> tuple[dict[str, str], str]:
    """A MY viewer's token, revoked, and the feed's newest cursor (read before revocation)."""
    token = await network.token(network.role(Role.VIEWER, "MY-MMEA"))
    headers = {"Authorization": f"Bearer {token}"}
    first = await network.http.get("/v1/feed", headers=headers)
    assert first.status_code == 200, first.text
    gone = await network.http.post("/v1/auth/revoke", data={"token": token}, headers=headers)
    assert gone.json() == {"revoked": True}
    return headers, first.json()["next_cursor"]


async def test_a_revoked_token_does_not_long_poll(network: Network) -> None:
    """A revoked token's long poll is refused at once. It used to wait, and end the moment an
    event it may see arrived (then 401): a revoked client could still learn, poll after poll,
    when its agency was sent something, and (by `after`) at which seq."""
    headers, cursor = await _revoked_reader(network)
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")

    async def post_later() -> None:
        await asyncio.sleep(1.5)
        body = alert_body(handling=handling("network"))
        await network.http.post("/v1/alerts", json=body, headers=sender)

    poster = asyncio.create_task(post_later())
    began = time.monotonic()
    response = await network.http.get(f"/v1/feed?after={cursor}&wait=5", headers=headers)
    took = time.monotonic() - began
    await poster
    assert response.status_code == 401, response.text
    assert took < 1.0, f"a revoked token's long poll was held {took:.1f} s"


async def test_a_long_poll_ends_soon_after_its_token_is_revoked(network: Network) -> None:
    """Revoked while it waits, a long poll ends with 401 within a recheck, not when the next
    event it may see arrives (nor with that event: nothing after revocation is disclosed)."""
    token = await network.token(network.role(Role.VIEWER, "MY-MMEA"))
    headers = {"Authorization": f"Bearer {token}"}
    cursor = (await network.http.get("/v1/feed", headers=headers)).json()["next_cursor"]
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")

    async def revoke_then_post() -> float:
        await asyncio.sleep(0.3)
        gone = await network.http.post("/v1/auth/revoke", data={"token": token}, headers=headers)
        assert gone.json() == {"revoked": True}
        revoked_at = time.monotonic()
        await asyncio.sleep(2.5)
        body = alert_body(handling=handling("network"))
        await network.http.post("/v1/alerts", json=body, headers=sender)
        return revoked_at

    other = asyncio.create_task(revoke_then_post())
    response = await network.http.get(f"/v1/feed?after={cursor}&wait=10", headers=headers)
    answered_at = time.monotonic()
    revoked_at = await other
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == "token revoked"
    assert answered_at - revoked_at < 1.5


async def test_an_abandoned_long_poll_stops_waiting(network: Network, app: FastAPI) -> None:
    """A client that hangs up on its long poll takes the poll with it: it no longer waits
    (and reads the log twice a second) for up to 30 s for nobody. Fifty such polls opened and
    dropped a second by one client kept 1,500 running."""
    headers = await network.headers(Role.VIEWER, "MY-MMEA")
    cursor = (await network.http.get("/v1/feed", headers=headers)).json()["next_cursor"]
    waiters = app.state.runtime.db.events._waiters
    async with serving(app) as port:
        connections = []
        for _ in range(20):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(
                f"GET /v1/feed?after={cursor}&wait=20 HTTP/1.1\r\nhost: rilon.test\r\n"
                f"authorization: {headers['Authorization']}\r\n\r\n".encode()
            )
            await writer.drain()
            connections.append(writer)
        await until(lambda: len(waiters) == 20, "the twenty polls to wait", timeout=5)
        for writer in connections:
            writer.close()
        await asyncio.sleep(1.5)
        assert len(waiters) == 0, f"{len(waiters)} abandoned long polls still waiting"
