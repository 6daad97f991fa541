"""`rilon serve --workers N` on one SQLite file: N uvicorn processes behave as one service.

Every worker runs the dispatcher. They take turns through SQLite's write lock (each claim is a
BEGIN IMMEDIATE transaction that leases what it takes), so each event is sent once, not N
times. The dev keys every worker generates at start-up come out the same, so a token from one
is good at all. Behind a named proxy, the audit trail records the forwarded address.
"""

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx

from tests.cluster import BOOTSTRAP, NETWORK_ALERT, SENDER, LiveNetwork, created
from tests.processes import Process, child_env, run, supervised
from tests.receiver import Receiver, running, verify

WORKERS = 2
ALERTS = 12
CALLER = "203.0.113.7"  # what the proxy says the caller's address was
SETTLE_SECONDS = 2.0  # several idle rounds of every dispatcher: time for any double send


async def until_started(process: Process, workers: int, timeout: float = 60) -> None:
    """/healthz answers once one worker is up; wait until every worker says so."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while process.log().read_text(errors="replace").count("startup complete") < workers:
        assert loop.time() < deadline, f"{workers} workers did not start:\n{process.tail()}"
        await asyncio.sleep(0.1)


async def test_workers_share_keys_and_send_each_event_once(tmp_path: Path) -> None:
    env = child_env(f"sqlite:///{tmp_path / 'rilon.db'}", tmp_path, **BOOTSTRAP)
    env["RILON_ENV"] = "dev"  # no keys given: every worker generates (or reads) the dev keys
    del env["RILON_JWT_SECRET"], env["RILON_SECRETS_KEY"]
    receiver = Receiver()
    # No keep-alive: every request is a new connection, taken by whichever worker accepts it.
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with running(receiver), httpx.AsyncClient(timeout=10, limits=fresh) as http:
        with supervised(tmp_path, env) as processes:
            api = processes.add("serve", "serve", "--workers", str(WORKERS))
            api.args += ("--forwarded-allow-ips", "127.0.0.1")
            await api.start()
            await until_started(api, WORKERS)
            network = await LiveNetwork.register(http, api, api)
            await network.subscribe(http, api, receiver.url("/hook"), "/hook")
            forwarded = {**network.sender, "X-Forwarded-For": CALLER}
            alerts = [
                (await created(http, api.url("/v1/alerts"), forwarded, NETWORK_ALERT))["id"]
                for _ in range(ALERTS)
            ]
            for _ in range(3 * WORKERS):  # tokens from any worker verify at every worker
                me = await http.get(api.url("/v1/auth/me"), headers=network.subscriber)
                assert me.status_code == 200, me.text
            await receiver.wait_for(ALERTS, timeout=30)
            await asyncio.sleep(SETTLE_SECONDS)
            assert all(p.popen and p.popen.poll() is None for p in processes.started)
    sent = Counter(delivery.headers["webhook-id"] for delivery in receiver.received)
    assert len(sent) == ALERTS
    assert set(sent.values()) == {1}, "an event was sent more than once"
    events = [verify(network.secrets["/hook"], delivery) for delivery in receiver.received]
    assert sorted(event["data"]["id"] for event in events) == sorted(alerts)
    trail = (await run(tmp_path, env, "audit", "export")).splitlines()
    rows = [json.loads(line) for line in trail]
    posts = [row for row in rows if row["actor_agency"] == SENDER and row["object_id"] in alerts]
    assert len(posts) == ALERTS
    assert {row["ip"] for row in posts} == {CALLER}  # not the proxy's 127.0.0.1
    await run(tmp_path, env, "audit", "verify")


async def test_workers_slow_to_start_are_waited_for(tmp_path: Path) -> None:
    """On a loaded machine a worker can take longer than uvicorn's default 5 s to answer its
    supervisor's first ping; it was killed, and each replacement after it, for ever. Here
    every worker process takes 8 s before it even starts (a `sitecustomize` on its path)."""
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(
        "import sys, time\nif '--multiprocessing-fork' in sys.argv:\n    time.sleep(8)\n"
    )
    env = child_env(f"sqlite:///{tmp_path / 'rilon.db'}", tmp_path)
    env["PYTHONPATH"] = str(slow)
    with supervised(tmp_path, env) as processes:
        api = processes.add("serve", "serve", "--workers", str(WORKERS))
        await api.start()
        await until_started(api, WORKERS)
        assert "died" not in api.log().read_text(errors="replace"), api.tail()
