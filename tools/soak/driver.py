"""Drive a soak: serve the demo network, subscribe the receivers, send the traffic, sample,
drain and count (what the counts must be: tools/soak/judge.py)."""

import asyncio
import json
import os
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine
from standardwebhooks.webhooks import Webhook

from bench.harness import BenchError
from core.db import normalize_url
from delivery.transport import MAX_CONNECTIONS
from models.alerts import EXAMPLE
from tools.soak.judge import Bounds, Sample, SoakResult
from tools.soak.probes import (
    Ports,
    failing_outcome,
    outbox_sample,
    process_sample,
    sessions_opened,
)
from tools.soak.stack import Stack, service
from tools.soak.traffic import (
    BULK_CATEGORY,
    CLIENT_KEEPALIVE_SECONDS,
    CLIENT_TIMEOUT_SECONDS,
    FAN_OUT_CATEGORY,
    Receivers,
    Traffic,
)

DRAIN_SECONDS = 300.0  # at most; the drain ends sooner once nothing arrives for STALL_SECONDS
STALL_SECONDS = 30.0
HTTP_CONNECTIONS = 16  # the driver's httpx pool: posts, lists and the feed
BULK_IN_FLIGHT = 32  # background posts at once: B1's connections


async def _login(http: httpx.AsyncClient, client: str, secret: str) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": client, "client_secret": secret}
    answer = await http.post("/v1/auth/token", data=form)
    if answer.status_code != 200:
        raise BenchError(f"token for {client}: {answer.status_code} {answer.text[:200]}")
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _subscribe(http: httpx.AsyncClient, admin: dict[str, str], hooks: Receivers) -> set[str]:
    """Subscribe every receiver; return the ids of the failing ones' subscriptions."""
    failing = set()
    for path in hooks.paths():
        body = {
            "url": f"http://127.0.0.1:{hooks.port}{path}",
            "event_types": ["alert.created"],
            "filter": {"categories": [FAN_OUT_CATEGORY]},
        }
        answer = await http.post("/v1/subscriptions", json=body, headers=admin)
        if answer.status_code != 201:
            raise BenchError(f"subscribe: {answer.status_code} {answer.text[:200]}")
        hooks.hooks[path] = Webhook(answer.json()["secret"])
        if hooks.failing(path):
            failing.add(answer.json()["id"])
    return failing


async def drive(
    stack: Stack, seconds: float, rate: float, every: float, background: float = 0.0
) -> SoakResult:
    database = "sqlite" if stack.worker_pid is None else "postgresql"
    clients = HTTP_CONNECTIONS + (BULK_IN_FLIGHT if background else 0) + 1  # and the listener
    bounds = Bounds(MAX_CONNECTIONS, clients, stack.database_bounds())
    result = SoakResult(seconds, rate, database, bounds, background)
    creds, base_url = stack.credentials, stack.server.base_url
    hooks = Receivers(count=100, failing_every=20)
    await hooks.start()
    engine = create_engine(normalize_url(stack.database_url))
    limits = httpx.Limits(
        max_connections=HTTP_CONNECTIONS, keepalive_expiry=CLIENT_KEEPALIVE_SECONDS
    )
    try:
        async with httpx.AsyncClient(
            base_url=base_url, timeout=CLIENT_TIMEOUT_SECONDS, limits=limits
        ) as http:
            admin = await _login(http, "demo-th-mecc-admin", creds["demo-th-mecc-admin"])
            failing = await _subscribe(http, admin, hooks)
            traffic = Traffic(
                base_url,
                await _login(http, "demo-bd-cg-duty", creds["demo-bd-cg-duty"]),
                await _login(http, "demo-th-mecc-duty", creds["demo-th-mecc-duty"]),
                rate,
            )
            handling = {"distribution": "network", "tlp": "amber"}
            body = {**EXAMPLE, "category": FAN_OUT_CATEGORY, "handling": handling}
            loops = [traffic.post(http, body), traffic.list(http), traffic.feed(http)]
            if background:
                bulk = {**body, "category": BULK_CATEGORY}
                loops.append(traffic.bulk(json.dumps(bulk).encode(), background, BULK_IN_FLIGHT))
            tasks = [asyncio.create_task(loop) for loop in loops]
            ports = stack.ports(hooks.port)
            began = traffic.began = time.monotonic()
            result.start = _sample(stack, ports, engine, hooks, traffic)
            while time.monotonic() - began < seconds:
                await asyncio.sleep(every)
                result.samples.append(_sample(stack, ports, engine, hooks, traffic))
            traffic.stop.set()
            await asyncio.gather(*tasks)
            await _drain(result, engine, hooks, traffic, failing)
    finally:
        engine.dispose()
        await hooks.stop()
    result.duplicates, result.bad_signatures = hooks.duplicates, hooks.bad_signatures
    result.stray, result.background_posted = hooks.stray, traffic.answers.get("BULK 201", 0)
    result.failing_answers, result.lag_max_ms = hooks.refused, max(hooks.lags_ms, default=0)
    return result


async def _drain(
    result: SoakResult, engine: Engine, hooks: Receivers, traffic: Traffic, failing: set[str]
) -> None:
    """Wait until every pair has arrived (or nothing does for a while), then count."""
    expected = {(p, a) for a in traffic.posted for p in hooks.paths() if not hooks.failing(p)}
    drained = progressed = time.monotonic()
    seen = len(hooks.delivered)
    while time.monotonic() - drained < DRAIN_SECONDS:
        if not expected - hooks.delivered:
            break
        if len(hooks.delivered) > seen:
            seen, progressed = len(hooks.delivered), time.monotonic()
        elif time.monotonic() - progressed > STALL_SECONDS:
            break
        await asyncio.sleep(0.5)
    result.drain_seconds = time.monotonic() - drained
    result.posted, result.expected_pairs = len(traffic.posted), len(expected)
    result.lost = len(expected - hooks.delivered)
    kept, dropped, probed = failing_outcome(engine, failing)
    result.failing_expected = len(traffic.posted) * len(failing)
    result.failing_kept, result.failing_dropped = kept, dropped
    result.failing_unprobed = len(failing) - probed
    result.failures, result.lost_answers = traffic.failures(), traffic.lost_answers
    result.answers = dict(sorted(traffic.answers.items()))


def _sample(
    stack: Stack, ports: Ports, engine: Engine, hooks: Receivers, traffic: Traffic
) -> Sample:
    processes = {name: process_sample(pid, ports) for name, pid in stack.pids().items()}
    unexpanded, untried = outbox_sample(engine)
    lags = sorted(hooks.lags_ms[-2000:]) or [0.0]
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    posted, delivered = len(traffic.posted), len(hooks.delivered)
    t = round(time.monotonic() - traffic.began, 1)
    cpu = os.times()
    return Sample(
        t,
        processes,
        unexpanded,
        untried,
        round(p99, 1),
        posted,
        delivered,
        slowest_ms=traffic.take_slowest(),
        driver_cpu_s=cpu.user + cpu.system,
        sessions=sessions_opened(engine),
    )


def run(
    workdir: Path,
    seconds: float,
    rate: float = 1.0,
    every: float = 5.0,
    postgres: str | None = None,
    background: float = 0.0,
) -> SoakResult:
    """Seed the demo network (SQLite in `workdir`, or a scratch database on the PostgreSQL
    server `postgres` names), serve it, soak it."""
    with service(workdir, postgres) as stack:
        return asyncio.run(drive(stack, seconds, rate, every, background))
