"""Prometheus metrics of one process (or, in multiprocess mode, of all uvicorn workers).

Each app gets its own registry: tests build many apps in one process, and the global default
registry would refuse the second set of names. With `PROMETHEUS_MULTIPROC_DIR` set (read by
prometheus_client when it is imported), counters and histograms live in files in that
directory, and a scrape of any worker adds up every worker's files (docs/DECISIONS.md).
"""

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "(unmatched)"  # one label for every path no route matched: bounded cardinality
DELIVERY_OUTCOMES = ("delivered", "retry", "gave_up", "disabled", "superseded", "gone")
# Request latency in seconds: a fast read is a few ms, a feed long poll waits up to 30 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def clear_multiprocess_dir() -> None:
    """Remove the previous run's files: counters must start again with the processes."""
    directory = multiprocess_dir()
    if directory is None:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


class Metrics:
    """The request and delivery instruments of one app or worker, and what a scrape shows."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rilon_http_requests",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rilon_http_request_duration_seconds",
            "Time to the end of the answer, by method, route template and status class",
            ["method", "route", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.deliveries = Counter(
            "rilon_webhook_deliveries",
            "Webhook delivery attempts settled by this process, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in DELIVERY_OUTCOMES:  # present from the start, so rate() has a zero
            self.deliveries.labels(outcome)
        self.held_back = Counter(
            "rilon_dispatcher_held_back_rounds",
            "Dispatcher rounds that kept fewer deliveries open because requests were queueing",
            registry=self.registry,
        )
        if multiprocess_dir() is None:
            self.exposed = self.registry
        else:
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed)  # type: ignore[no-untyped-call]

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, f"{status // 100}xx").observe(seconds)

    def count_delivery(self, outcome: str) -> None:
        self.deliveries.labels(outcome).inc()

    def count_held_back(self) -> None:
        self.held_back.inc()

    def add_collectors(self, collectors: Iterable[Collector]) -> None:
        """Add collectors computed at scrape time (database gauges: the same from any process)."""
        for collector in collectors:
            self.exposed.register(collector)

    def exposition(self) -> bytes:
        """The text exposition format; may block (collectors query the database)."""
        return _generate_latest(self.exposed)
