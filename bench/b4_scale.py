"""B4 scale: 10 → 100 → 1,000 subscriptions; ingest p99 and deliveries/s while fanning out.

Each step is a fresh service (demo network, then its subscriptions on the receivers of
`bench/receivers.py`). One alert must first reach every subscription, verified. Then wrk posts
`POST /v1/alerts` at `--connections` for `--seconds` while the in-process dispatcher delivers;
deliveries/s are the verified deliveries that arrived within wrk's run. At 1,000 subscriptions
each alert is 1,000 deliveries: the backlog is not waited for, so the step stays bounded. The
outbox is counted from the service's SQLite file when wrk stops.
"""

import itertools
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import servers, webhooks
from bench.compare import Options, Report
from bench.harness import BenchError, Server
from bench.load import LoadResult, Request, run_wrk
from bench.receivers import Receivers, receivers

STEPS = (10, 100, 1_000)
CHECK_TIMEOUT = 60.0
TARGET_GROWTH = 1.2


@dataclass(frozen=True)
class Step:
    subscriptions: int
    ingest: LoadResult
    deliveries: int
    seconds: float
    outbox: str  # what the dispatcher had done when wrk stopped

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


def _outbox(database: Path) -> str:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        states = dict(db.execute("SELECT state, count(*) FROM delivery GROUP BY state").fetchall())
        events = db.execute("SELECT count(*), max(seq) FROM event").fetchone()
        done = db.execute("SELECT last_seq FROM dispatcher_state WHERE name = 'expander'")
        expanded = (done.fetchone() or (0,))[0]
    return (
        f"{events[0]:,} events, expanded to seq {expanded:,} of {events[1]:,}; deliveries "
        + ", ".join(f"{state} {count:,}" for state, count in sorted(states.items()))
    )


def _check(service: Server, tokens: webhooks.Tokens, hooks: Receivers, n: int) -> None:
    """One alert reaches every subscription, verified, before any load."""
    with httpx.Client(base_url=service.base_url, timeout=30.0) as http:
        record_id, created = webhooks.post_alert(http, tokens)
    while (count := hooks.record(record_id)[0]) < n:
        if time.monotonic() - created > CHECK_TIMEOUT:
            raise BenchError(f"check alert: {count} of {n} deliveries in {CHECK_TIMEOUT:g} s")
        time.sleep(0.05)


def _step(n: int, hooks: Receivers, options: Options) -> Step:
    workdir = options.workdir / f"subscriptions-{n}"
    workdir.mkdir()
    try:
        with servers.rilon(workdir, extra_env=webhooks.ENV) as (service, credentials):
            tokens = webhooks.tokens(service, credentials)
            print(f"  {n:,} subscriptions: subscribing ... ", end="", flush=True)
            hooks.register(webhooks.subscribe(service, tokens, [hooks.url(i) for i in range(n)]))
            _check(service, tokens, hooks, n)
            hooks.reset()
            print("load ", end="", flush=True)
            started = time.monotonic()
            load = run_wrk(
                service.base_url,
                Request("/v1/alerts", "POST", tokens.sender, webhooks.ALERT),
                seconds=options.seconds,
                connections=options.connections,
                workdir=workdir,
            )
            ended = time.monotonic()
            outbox = _outbox(workdir / "rilon.db")
            stats = hooks.stats(after=started, before=ended)
            if stats.failed:
                raise BenchError(f"{stats.failed} deliveries failed verification")
            step = Step(n, load, stats.in_window, ended - started, outbox)
            print(f"{load.brief()}; {step.rate:,.0f} deliveries/s")
            return step
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(options: Options) -> Report:
    with receivers(options.workdir) as hooks:
        steps = [_step(n, hooks, options) for n in STEPS]
    first, last = steps[0], steps[-1]
    lines = [
        "| subscriptions | alerts/s | ingest p50 ms | ingest p99 ms | deliveries/s "
        "| p99 / first | deliveries / first |",
        "|--------------:|---------:|--------------:|--------------:|-------------:"
        "|------------:|-------------------:|",
    ]
    for step in steps:
        flag = f" FAILED: {step.ingest.brief()}" if step.ingest.failed else ""
        lines.append(
            f"| {step.subscriptions:>13,} | {step.ingest.rps:>8,.0f} "
            f"| {step.ingest.p50_ms:>13.1f} | {step.ingest.p99_ms:>13.1f} "
            f"| {step.rate:>12,.0f} | {_ratio(step.ingest.p99_ms, first.ingest.p99_ms):>11} "
            f"| {_ratio(step.rate, first.rate):>18} |{flag}"
        )
    growth = last.ingest.p99_ms / first.ingest.p99_ms if first.ingest.p99_ms else 0.0
    flat = all(later.rate >= 0.9 * earlier.rate for earlier, later in itertools.pairwise(steps))
    met = growth <= TARGET_GROWTH and flat
    notes = tuple(
        f"{step.subscriptions:,} subscriptions, when wrk stopped: {step.outbox}" for step in steps
    ) + (
        f"target (ingest p99 within {TARGET_GROWTH}x from {first.subscriptions} to "
        f"{last.subscriptions:,}; deliveries/s not falling, 10 % noise allowed): "
        f"{'met' if met else 'NOT met'} (p99 {growth:.3g}x; deliveries/s "
        + " → ".join(f"{step.rate:,.0f}" for step in steps)
        + ")",
    )
    return Report("\n".join(lines), notes, any(step.ingest.failed for step in steps))


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.3g}" if base > 0 else "n/a"
