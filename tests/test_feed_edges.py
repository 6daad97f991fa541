"""The change feed under stress and against hostile callers: revoked tokens, abandoned and
crowded long polls."""

import asyncio
import time

from fastapi import FastAPI

from models.enums import Role
from services.records.polls import POLLS_PER_CLIENT
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
        for _ in range(POLLS_PER_CLIENT):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(
                f"GET /v1/feed?after={cursor}&wait=20 HTTP/1.1\r\nhost: rilon.test\r\n"
                f"authorization: {headers['Authorization']}\r\n\r\n".encode()
            )
            await writer.drain()
            connections.append(writer)
        await until(lambda: len(waiters) == POLLS_PER_CLIENT, "the polls to wait", timeout=5)
        for writer in connections:
            writer.close()
        await asyncio.sleep(1.5)
        assert len(waiters) == 0, f"{len(waiters)} abandoned long polls still waiting"


async def test_a_client_keeps_only_a_few_long_polls_waiting(network: Network, app: FastAPI) -> None:
    """Each waiting poll reads the log twice a second and wakes at every event: one client
    leaving as many waiting as its request rate allowed slowed everyone's reads (1,500 of
    them: 2.4 to 22 ms at the median). A client has POLLS_PER_CLIENT waiting at once; one
    more is a 429 naming the bound, a poll without `wait` is answered as ever, another
    client's poll waits, and a place is free again once a poll answers."""
    viewer = network.role(Role.VIEWER, "MY-MMEA")
    headers = await network.headers(Role.VIEWER, "MY-MMEA")
    other = await network.headers(Role.VIEWER, "ID-BASARNAS")
    cursor = (await network.http.get("/v1/feed", headers=headers)).json()["next_cursor"]
    url = f"/v1/feed?after={cursor}&wait=20"
    waiting = [asyncio.create_task(network.http.get(url, headers=headers)) for _ in range(4)]
    others = asyncio.create_task(network.http.get(url, headers=other))
    polls = app.state.runtime.polls
    await until(lambda: polls._waiting[viewer.client_id] == 4, "four polls waiting", 10)
    refused = await network.http.get(url, headers=headers)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert f"{POLLS_PER_CLIENT} long polls of this client are already waiting" in refused.text
    assert (await network.http.get(f"/v1/feed?after={cursor}", headers=headers)).status_code == 200
    assert not others.done()  # another client's poll is waiting, not refused
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    posted = await network.http.post(
        "/v1/alerts", json=alert_body(handling=handling("network")), headers=sender
    )
    answers = await asyncio.gather(*waiting, others)
    assert [len(answer.json()["events"]) for answer in answers] == [1] * 5
    assert answers[0].json()["events"][0]["data"]["id"] == posted.json()["id"]
    assert polls._waiting == {}  # every place given back
    again = await network.http.get(f"/v1/feed?after={cursor}&wait=1", headers=headers)
    assert again.status_code == 200, again.text
