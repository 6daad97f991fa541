"""Outbox and dispatcher gauges, read from the database when Prometheus scrapes.

They describe the shared database, not this process, so every API replica and worker reports
the same values; computing them at scrape time keeps them right whichever process wrote last.
"""

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from core.clock import utcnow
from core.db import Database
from delivery import backlog

log = logging.getLogger(__name__)


class BacklogCollector(Collector):
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "rilon_database_up", "1 if the scrape could read the outbox from the database"
        )
        try:
            found = self.db.run_read(backlog.measure)
        except Exception:
            # A scrape must still answer (and say so) when the database does not.
            log.warning("metrics: the outbox could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = self.clock()
        yield _gauge(
            "rilon_outbox_events_pending",
            "Committed events not yet expanded into deliveries",
            found.events_pending,
        )
        yield _gauge(
            "rilon_outbox_oldest_event_age_seconds",
            "Age of the oldest event not yet expanded (0 when none waits)",
            _age(now, found.oldest_event_at),
        )
        yield _gauge(
            "rilon_webhook_deliveries_pending",
            "Deliveries waiting to be sent or retried, for enabled subscriptions",
            found.deliveries_pending,
        )
        yield _gauge(
            "rilon_webhook_oldest_pending_delivery_age_seconds",
            "Age of the oldest undelivered delivery of an enabled subscription (0 when none)",
            _age(now, found.oldest_delivery_at),
        )
        yield _gauge(
            "rilon_webhook_deliveries_held",
            "Deliveries kept for disabled subscriptions until they are enabled again",
            found.deliveries_held,
        )
        yield _gauge(
            "rilon_dispatcher_heartbeat_timestamp_seconds",
            "Unix time of the newest dispatcher heartbeat of any process (0: never)",
            found.heartbeat_at.timestamp() if found.heartbeat_at else 0.0,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since else 0.0
