"""A partner whose name servers stall costs nobody else: not the other partners' deliveries,
not the agency admins subscribing meanwhile.

Host names under `.partner.test` resolve to 127.0.0.1 through a stand-in for the system
resolver; a "stalled" one blocks its lookup (as a name server that never answers does) until
the test ends. Real receivers, real signatures, the app's own dispatcher, both databases.
"""

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from models.enums import Role
from tests.backlog import add_deliveries
from tests.conftest import make_settings
from tests.receiver import Receiver, running, verify
from tests.support import Network, alert_body, handling

# More partners whose name servers stall at once than the resolver had threads (8): they held
# every one, and a healthy partner's lookups waited behind them.
STUCK = tuple(f"stuck-{n}.partner.test" for n in range(9))
BACKLOG = 10  # each stuck partner has more due than its share of senders
PROMPT = 1.0
TIMEOUT = 1.0  # RILON_WEBHOOK_CONNECT_TIMEOUT_SECONDS: a lookup is waited for this long


class NameServers:
    """Stands in for `socket.getaddrinfo`: every `.partner.test` name is 127.0.0.1."""

    def __init__(self) -> None:
        self.real = socket.getaddrinfo
        self.stalled: set[str] = set()
        self.released = threading.Event()

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".partner.test"):
            if host in self.stalled:
                self.released.wait(60)
            return self.real("127.0.0.1", port, *args, **kwargs)
        return self.real(host, port, *args, **kwargs)


@pytest.fixture
def name_servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[NameServers]:
    servers = NameServers()
    monkeypatch.setattr(socket, "getaddrinfo", servers.getaddrinfo)
    yield servers
    servers.released.set()  # no lookup outlives the test


@pytest.fixture
async def live(
    database_url: str, tmp_path: Path, name_servers: NameServers
) -> AsyncIterator[tuple[httpx.AsyncClient, Network]]:
    settings = make_settings(
        database_url, tmp_path, dispatcher=True, webhook_connect_timeout_seconds=TIMEOUT
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
            yield http, Network.seed(application.state.runtime.db, http)


async def subscribe(http: httpx.AsyncClient, headers: dict[str, str], url: str) -> Any:
    body = {"url": url, "event_types": ["*"]}
    return await http.post("/v1/subscriptions", json=body, headers=headers)


async def test_a_partner_whose_dns_stalls_does_not_delay_the_others(
    live: tuple[httpx.AsyncClient, Network], name_servers: NameServers, database_url: str
) -> None:
    http, network = live
    async with running(Receiver()) as receiver:
        admin = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
        stuck = []
        for host in STUCK:
            answer = await subscribe(http, admin, receiver.url("/stuck", host=host))
            assert answer.status_code == 201, answer.text
            stuck.append(answer.json()["id"])
        name_servers.stalled.update(STUCK)  # from now on their name servers never answer
        # Their backlogs only now: due any earlier, the app's dispatcher could look a name up
        # (and keep the answer) before it stalled, and post to it.
        for subscription in stuck:
            await asyncio.to_thread(add_deliveries, database_url, subscription, BACKLOG)
        healthy_admin = await network.headers(Role.AGENCY_ADMIN, "ID-BASARNAS")
        healthy = await subscribe(http, healthy_admin, receiver.url("/ok", host="ok.partner.test"))
        assert healthy.status_code == 201, healthy.text
        await asyncio.sleep(0.5)  # the stuck partners' lookups are under way
        sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
        body = alert_body(handling=handling("network"))
        posted = await http.post("/v1/alerts", json=body, headers=sender)
        assert posted.status_code == 201, posted.text
        began = time.monotonic()
        while not receiver.at("/ok"):
            assert time.monotonic() - began < 15, "the healthy partner got nothing"
            await asyncio.sleep(0.02)
        took = time.monotonic() - began
        assert took < PROMPT, f"the healthy partner waited {took:.2f} s"
        event = verify(healthy.json()["secret"], receiver.at("/ok")[0])
        assert event["data"]["id"] == posted.json()["id"]
        assert receiver.at("/stuck") == []


async def test_subscribing_to_a_stalled_name_is_a_prompt_422(
    live: tuple[httpx.AsyncClient, Network], name_servers: NameServers
) -> None:
    http, network = live
    name_servers.stalled.add("stalled.partner.test")
    admin = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    began = time.monotonic()
    answer = await subscribe(http, admin, "http://stalled.partner.test:9/hook")
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {"field": "url", "message": f"stalled.partner.test did not resolve within {TIMEOUT:g} s"}
    ]
    assert time.monotonic() - began < TIMEOUT + 2
    listed = await http.get("/v1/subscriptions", headers=admin)
    assert listed.json() == []  # nothing was written
