"""Fair fan-out: a partner that hangs, is slow or has a huge backlog never delays the others.

Real time, real local receivers, the dispatcher the app runs itself and, on PostgreSQL, two
`rilon worker` processes beside a `rilon serve --no-dispatcher`. Each test first gives the
troubled partners a backlog far larger than one round of claiming, lets them take their
share of the senders, and only then subscribes a healthy partner: its alert must arrive
within a second.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from core.clock import utcnow
from delivery.dispatcher import HELD_SECONDS
from models.enums import Role
from tests.backlog import add_deliveries, add_events
from tests.cluster import BOOTSTRAP, LiveNetwork
from tests.conftest import make_settings
from tests.processes import child_env, run, supervised
from tests.receiver import Receiver, running, verify
from tests.support import Network, alert_body, handling, until

HANGING_BACKLOG = 1000
SLOW_BACKLOG = 10
SLOW_SECONDS = 2.0
REPLAYED_EVENTS = 3000
MANY = 66  # hanging partners: at 4 requests each, more than the dispatcher's 256 slots
PROMPT = 1.0  # seconds from the POST's answer to the healthy partner's verified receipt
Headers = dict[str, str]


async def subscribe(
    http: httpx.AsyncClient, headers: Headers, url: str, api: str = ""
) -> tuple[str, str]:
    """Subscribe to every event type through the API at `api` (the test client's own: "")."""
    body = {"url": url, "event_types": ["*"]}
    answer = await http.post(f"{api}/v1/subscriptions", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], answer.json()["secret"]


@dataclass
class Troubled:
    """A partner that hangs and one that takes SLOW_SECONDS an answer, both far behind."""

    hanging: Receiver = field(default_factory=Receiver)
    slow: Receiver = field(default_factory=lambda: Receiver(slow_seconds=SLOW_SECONDS))
    healthy: Receiver = field(default_factory=Receiver)

    def __post_init__(self) -> None:
        self.hanging.script["/hook"] = ["hang"] * (HANGING_BACKLOG + 100)
        self.slow.script["/hook"] = ["slow"] * (SLOW_BACKLOG + 100)

    @asynccontextmanager
    async def running(self) -> AsyncIterator["Troubled"]:
        async with running(self.hanging), running(self.slow), running(self.healthy):
            yield self

    async def fall_behind(
        self, http: httpx.AsyncClient, admin: Headers, database_url: str, api: str = ""
    ) -> None:
        """Subscribe both, give them their backlogs, and wait until they hold senders."""
        for receiver, count in ((self.hanging, HANGING_BACKLOG), (self.slow, SLOW_BACKLOG)):
            subscription, _ = await subscribe(http, admin, receiver.url(), api)
            await asyncio.to_thread(add_deliveries, database_url, subscription, count)
        await until(lambda: self.hanging.in_flight >= 4, "the hanging partner's requests", 10)
        await until(lambda: self.slow.in_flight >= 1, "the slow partner's requests", 10)


async def prompt_delivery(
    http: httpx.AsyncClient, sender: Headers, healthy: Receiver, secret: str, api: str = ""
) -> float:
    """Post a network alert; seconds from its 201 to the healthy partner's verified receipt."""
    body = alert_body(handling=handling("network"))
    answer = await http.post(f"{api}/v1/alerts", json=body, headers=sender)
    assert answer.status_code == 201, answer.text
    began = time.monotonic()
    await until(lambda: bool(healthy.received), "the healthy partner's delivery", 15)
    took = time.monotonic() - began
    event = verify(secret, healthy.received[0])
    assert event["data"]["id"] == answer.json()["id"]
    return took


@pytest.fixture
async def live(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Network]]:
    """The app with its own dispatcher running, as `rilon serve` runs it."""
    settings = make_settings(database_url, tmp_path, dispatcher=True)
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
            yield http, Network.seed(application.state.runtime.db, http)


async def test_a_hanging_and_a_slow_partner_do_not_delay_a_healthy_one(
    live: tuple[httpx.AsyncClient, Network], database_url: str
) -> None:
    http, network = live
    async with Troubled().running() as partners:
        admin = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
        await partners.fall_behind(http, admin, database_url)
        healthy_admin = await network.headers(Role.AGENCY_ADMIN, "ID-BASARNAS")
        _, secret = await subscribe(http, healthy_admin, partners.healthy.url())
        sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
        took = await prompt_delivery(http, sender, partners.healthy, secret)
        assert took < PROMPT, f"the healthy partner waited {took:.2f} s"
        assert partners.hanging.most_in_flight <= 4  # its share, however long its queue


async def test_a_huge_replay_for_one_partner_does_not_delay_a_healthy_one(
    live: tuple[httpx.AsyncClient, Network], database_url: str
) -> None:
    """A partner replays a long history to a receiver that hangs: its replay is queued a
    chunk a round and sent at its own pace, while a healthy partner's alert goes out."""
    http, network = live
    await asyncio.to_thread(add_events, database_url, REPLAYED_EVENTS)
    async with Troubled().running() as partners:
        admin = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
        subscription, _ = await subscribe(http, admin, partners.hanging.url())
        since = {"since": (utcnow() - timedelta(hours=1)).isoformat()}
        replay = f"/v1/subscriptions/{subscription}/replay"
        asked = await http.post(replay, json=since, headers=admin)
        assert asked.status_code == 202, asked.text
        await until(lambda: partners.hanging.in_flight >= 4, "the replay's first requests", 10)
        healthy_admin = await network.headers(Role.AGENCY_ADMIN, "ID-BASARNAS")
        _, secret = await subscribe(http, healthy_admin, partners.healthy.url())
        sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
        took = await prompt_delivery(http, sender, partners.healthy, secret)
        assert took < PROMPT, f"the healthy partner waited {took:.2f} s"
        progress = await http.get(asked.headers["location"], headers=admin)
        assert progress.json()["queued"] >= REPLAYED_EVENTS // 2  # it goes on meanwhile


async def test_more_hanging_partners_than_slots_do_not_delay_a_healthy_one(
    live: tuple[httpx.AsyncClient, Network], database_url: str
) -> None:
    """66 partners hang at once (a hosting provider whose load balancer lost its backends),
    each with a backlog: at 4 requests each they held all 256 of the dispatcher's slots, and a
    healthy partner's alert waited for their 15 s timeouts. A request held open past
    HELD_SECONDS now keeps its partner's share but gives back its slot."""
    http, network = live
    hanging, healthy = Receiver(), Receiver()
    async with running(hanging), running(healthy):
        for n in range(MANY):
            admin = await network.headers(Role.AGENCY_ADMIN, ("MY-MMEA", "TH-MECC")[n % 2])
            hanging.script[f"/h{n}"] = ["hang"] * 100
            subscription, _ = await subscribe(http, admin, hanging.url(f"/h{n}"))
            await asyncio.to_thread(add_deliveries, database_url, subscription, 10)
        await until(lambda: hanging.in_flight >= 256, "every slot taken", 20)
        await asyncio.sleep(HELD_SECONDS)  # held, now: the slots are given back
        await until(lambda: hanging.in_flight == 4 * MANY, "every hanging partner's share", 10)
        healthy_admin = await network.headers(Role.AGENCY_ADMIN, "ID-BASARNAS")
        _, secret = await subscribe(http, healthy_admin, healthy.url())
        sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
        took = await prompt_delivery(http, sender, healthy, secret)
        assert took < PROMPT, f"the healthy partner waited {took:.2f} s"
        assert hanging.most_in_flight == 4 * MANY  # each its share, never more


@pytest.mark.postgres
async def test_two_workers_serve_a_healthy_partner_promptly(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    """The production shape: an API replica and two `rilon worker` processes, each holding
    its share of the troubled partners' senders."""
    url = empty_postgres_database
    env = child_env(url, tmp_path, **BOOTSTRAP)
    await run(tmp_path, env, "db", "upgrade")
    async with Troubled().running() as partners, httpx.AsyncClient(timeout=15) as http:
        with supervised(tmp_path, env) as processes:
            api = processes.add("api", "serve", "--no-dispatcher")
            workers = [processes.add(f"worker{n}", "worker") for n in (1, 2)]
            await asyncio.gather(*(process.start() for process in (api, *workers)))
            network = await LiveNetwork.register(http, api, api)
            await partners.fall_behind(http, network.subscriber, url, api.url())
            await until(lambda: partners.hanging.in_flight == 8, "both workers' share", 10)
            _, secret = await subscribe(http, network.subscriber, partners.healthy.url(), api.url())
            took = await prompt_delivery(http, network.sender, partners.healthy, secret, api.url())
            assert took < PROMPT, f"the healthy partner waited {took:.2f} s"
            assert partners.hanging.most_in_flight == 8  # 4 a worker, never more
