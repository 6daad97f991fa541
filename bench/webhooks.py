"""What B2 and B4 share: a service that may deliver to 127.0.0.1, its subscriptions, its alerts.

The subscriptions belong to TH-MECC (`demo-th-mecc-admin`) and take every event type. The alerts
are `models.alerts.EXAMPLE` with handling distribution `network`, posted by `demo-bd-cg-duty`,
so each alert is one `alert.created` event that every subscription may read and receives.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from bench import servers
from bench.harness import BenchError, Server
from bench.receivers import Receivers, Stats
from models.alerts import EXAMPLE

ADMIN, SENDER = "demo-th-mecc-admin", "demo-bd-cg-duty"
MAX_SUBSCRIPTIONS = 2_000  # RILON_MAX_SUBSCRIPTIONS_PER_AGENCY: B4 goes to 1,000
ENV = {
    "RILON_WEBHOOK_ALLOW_HTTP": "true",
    "RILON_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
    "RILON_MAX_SUBSCRIPTIONS_PER_AGENCY": str(MAX_SUBSCRIPTIONS),
}
_HANDLING = {**EXAMPLE["handling"], "distribution": "network", "recipient_countries": []}
ALERT = json.dumps({**EXAMPLE, "handling": _HANDLING}, separators=(",", ":"))
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Tokens:
    admin: dict[str, str]  # headers of an agency_admin of TH-MECC
    sender: dict[str, str]  # headers of a duty officer of BD-CG, with the JSON content type


def tokens(service: Server, credentials: dict[str, str]) -> Tokens:
    missing = {ADMIN, SENDER} - set(credentials)
    if missing:
        raise BenchError(f"rilon demo printed no credentials for {', '.join(sorted(missing))}")
    admin = servers.access_token(service, ADMIN, credentials[ADMIN])
    sender = servers.access_token(service, SENDER, credentials[SENDER])
    return Tokens(
        {"Authorization": "Bearer " + admin},
        {"Authorization": "Bearer " + sender, "Content-Type": "application/json"},
    )


def subscribe(service: Server, tokens: Tokens, urls: Sequence[str]) -> dict[str, str]:
    """One subscription to every event type per URL; their secrets by URL."""
    secrets: dict[str, str] = {}
    with httpx.Client(base_url=service.base_url, headers=tokens.admin, timeout=30.0) as http:
        for url in urls:
            answer = http.post("/v1/subscriptions", json={"url": url, "event_types": ["*"]})
            if answer.status_code != 201:
                raise BenchError(
                    f"POST /v1/subscriptions: {answer.status_code} {answer.text[:300]}"
                )
            secrets[url] = answer.json()["secret"]
    return secrets


def post_alert(http: httpx.Client, tokens: Tokens) -> tuple[str, float]:
    """Publish one alert; its id, and when its 201 arrived (`time.monotonic()`)."""
    answer = http.post("/v1/alerts", content=ALERT, headers=tokens.sender)
    arrived = time.monotonic()
    if answer.status_code != 201:
        raise BenchError(f"POST /v1/alerts: {answer.status_code} {answer.text[:300]}")
    record_id: str = answer.json()["id"]
    return record_id, arrived


def wait_verified(hooks: Receivers, expected: int, timeout: float) -> Stats:
    """Wait until `expected` verified deliveries arrived; insist that none failed."""
    deadline = time.monotonic() + timeout
    while True:
        stats = hooks.stats()
        if stats.failed:
            raise BenchError(f"{stats.failed} deliveries failed verification")
        if stats.verified >= expected or time.monotonic() > deadline:
            return stats
        time.sleep(min(0.2, max(POLL_SECONDS, timeout / 100)))
