"""GET /metrics: requests by route template, deliveries by outcome, the outbox's lag."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func
from sqlmodel import select

from core.clock import utcnow
from core.db import Database
from core.netguard import networks
from delivery import expansion
from delivery.dispatcher import Dispatcher
from delivery.transport import Transport
from models.audit import AuditEvent
from models.enums import Role
from tests.processes import HOST, child_env, free_port, supervised
from tests.receiver import Receiver, running
from tests.support import Network, alert_body, handling

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
RECORD = "/v1/alerts/{record_id}"


async def scrape(http: httpx.AsyncClient) -> tuple[Samples, str]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, response.text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def audit_rows(db: Database) -> int:
    return db.run_read(lambda s: s.exec(select(func.count()).select_from(AuditEvent)).one())


async def test_requests_are_counted_by_route_template(network: Network, db: Database) -> None:
    http = network.http
    writer = await network.headers(Role.DUTY_OFFICER)
    created = await http.post("/v1/alerts", json=alert_body(), headers=writer)
    assert created.status_code == 201
    record = created.json()["id"]
    for _ in range(2):
        assert (await http.get(f"/v1/alerts/{record}", headers=writer)).status_code == 200
    missing = str(uuid.uuid4())
    assert (await http.get(f"/v1/alerts/{missing}", headers=writer)).status_code == 404
    assert (await http.get(f"/v1/alerts/{record}")).status_code == 401
    assert (await http.get("/wp-admin/setup.php?leak=s3cr3t")).status_code == 404

    samples, text = await scrape(http)
    requests = "rilon_http_requests_total"
    assert value(samples, requests, method="GET", route=RECORD, status="200") == 2
    assert value(samples, requests, method="GET", route=RECORD, status="404") == 1
    assert value(samples, requests, method="GET", route=RECORD, status="401") == 1
    assert value(samples, requests, method="POST", route="/v1/alerts", status="201") == 1
    assert value(samples, requests, method="GET", route="(unmatched)", status="404") == 1
    latency = "rilon_http_request_duration_seconds_count"
    assert value(samples, latency, method="GET", route=RECORD, status_class="2xx") == 2
    assert value(samples, latency, method="GET", route=RECORD, status_class="4xx") == 2
    for raw in (record, missing, "wp-admin", "s3cr3t"):
        assert raw not in text  # raw paths never become labels


async def test_scrapes_are_not_audited_and_counted_like_any_route(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = audit_rows(db)
    await scrape(client)
    samples, _ = await scrape(client)
    assert audit_rows(db) == before
    assert value(samples, "rilon_http_requests_total", method="GET", route="/metrics", status="200")
    assert value(samples, "rilon_database_up") == 1


@pytest.fixture
async def sending(app: FastAPI) -> AsyncIterator[tuple[Dispatcher, Receiver]]:
    """A dispatcher run by hand that counts into the app's metrics, and a real receiver."""
    runtime = app.state.runtime
    transport = Transport(networks(["127.0.0.0/8"]), allow_http=True)
    await transport.start()
    dispatcher = Dispatcher(
        runtime.db, runtime.webhooks.policy.box, transport, metrics=runtime.metrics
    )
    async with running(Receiver()) as receiver:
        yield dispatcher, receiver
    await dispatcher.drain()
    await transport.close()


async def _subscribe(network: Network, receiver: Receiver, path: str) -> None:
    admin = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    body = {"url": receiver.url(path), "event_types": ["alert.created"]}
    assert (await network.http.post("/v1/subscriptions", json=body, headers=admin)).is_success


async def _post_alert(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("network"))
    assert (await network.http.post("/v1/alerts", json=body, headers=sender)).status_code == 201


async def test_deliveries_by_outcome_and_the_outbox_gauges(
    network: Network, sending: tuple[Dispatcher, Receiver], app: FastAPI
) -> None:
    dispatcher, receiver = sending
    http = network.http
    receiver.script["/flaky"] = [503]
    receiver.retry_after = "1"
    await _subscribe(network, receiver, "/hook")
    await _subscribe(network, receiver, "/flaky")
    await _post_alert(network)
    await _post_alert(network)

    samples, _ = await scrape(http)
    assert value(samples, "rilon_outbox_events_pending") == 2  # committed, not yet expanded
    assert value(samples, "rilon_outbox_oldest_event_age_seconds") >= 0
    assert value(samples, "rilon_webhook_deliveries_pending") == 0
    assert value(samples, "rilon_dispatcher_heartbeat_timestamp_seconds") == 0  # never beat

    expanded_at = utcnow() - timedelta(seconds=90)  # as if the dispatcher fell behind
    await app.state.runtime.db.write(partial(expansion.expand, now=expanded_at))
    samples, _ = await scrape(http)
    assert value(samples, "rilon_outbox_events_pending") == 0
    assert value(samples, "rilon_webhook_deliveries_pending") == 4
    assert 89 <= value(samples, "rilon_webhook_oldest_pending_delivery_age_seconds") < 300
    beat = value(samples, "rilon_dispatcher_heartbeat_timestamp_seconds")
    assert beat == pytest.approx(expanded_at.timestamp(), abs=0.01)

    await dispatcher.tick()
    await dispatcher.drain()
    await receiver.wait_for(4)
    samples, _ = await scrape(http)
    deliveries = "rilon_webhook_deliveries_total"
    assert value(samples, deliveries, outcome="delivered") == 3  # /hook twice, /flaky once
    assert value(samples, deliveries, outcome="retry") == 1  # the 503, retried in a second
    assert value(samples, deliveries, outcome="gave_up") == 0
    assert value(samples, "rilon_webhook_deliveries_pending") == 1
    assert value(samples, "rilon_dispatcher_heartbeat_timestamp_seconds") > beat


async def test_a_worker_serves_its_metrics(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    with supervised(tmp_path, child_env(database_url, tmp_path)) as processes:
        worker = processes.add(
            "worker", "worker", "--metrics-port", str(port), "--metrics-host", HOST
        )
        await worker.start()
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(200):
                try:
                    answer = await http.get(f"http://{HOST}:{port}/metrics")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("no metrics port:\n" + worker.tail())
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
    assert samples["rilon_database_up"] == 1
    assert samples["rilon_outbox_events_pending"] == 0
    assert "rilon_webhook_deliveries_total" in samples
