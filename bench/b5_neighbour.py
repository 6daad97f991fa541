"""B5 noisy neighbour: 90 healthy subscriptions, with and without 10 stuck ones beside them.

One service (demo network, in-process dispatcher, SQLite) and the receivers process of
`bench/receivers.py`. The 90 healthy subscriptions take every alert. In a quiet phase, alerts
are posted one at a time and each is timed from its 201 to the last of its 90 verified
receipts. In a noisy phase, 10 more subscriptions point at endpoints that hold every request
HANG_SECONDS, each with a backlog of 1,000 deliveries due at once (written into the database
as a network that fell behind leaves it), and the same is timed once they hold their share
of the senders. Phases alternate ABBA over `--rounds`; a noisy phase's stuck subscriptions
are deleted before the next quiet one. Target: the noisy p50 within 1.5x of the quiet p50.
"""

import statistics
import time

import httpx

from bench import servers, webhooks
from bench.backlog import add_deliveries
from bench.compare import Options, Report
from bench.harness import BenchError, Server
from bench.receivers import HANG_SECONDS, Receivers, receivers
from bench.webhooks import Tokens

HEALTHY, STUCK, BACKLOG = 90, 10, 1_000
ALERTS, GAP_SECONDS, ALERT_TIMEOUT = 20, 0.25, 30.0
HELD_TIMEOUT = 20.0  # for the stuck ones to take their share of the senders
TARGET_RATIO = 1.5


def _timed_alerts(service: Server, tokens: Tokens, hooks: Receivers) -> list[float]:
    """Milliseconds from each alert's 201 to its last verified healthy receipt."""
    times: list[float] = []
    with httpx.Client(base_url=service.base_url, timeout=30.0) as http:
        for _ in range(ALERTS):
            record_id, created = webhooks.post_alert(http, tokens)
            while (found := hooks.record(record_id))[0] < HEALTHY:
                if time.monotonic() - created > ALERT_TIMEOUT:
                    raise BenchError(f"alert {record_id}: {found[0]} receipts in {ALERT_TIMEOUT} s")
                time.sleep(webhooks.POLL_SECONDS)
            times.append((found[1] - created) * 1e3)
            time.sleep(GAP_SECONDS)
    return times


def _stick(service: Server, tokens: Tokens, hooks: Receivers, database_url: str) -> list[str]:
    """Subscribe the stuck endpoints, give each its backlog, wait until they hold senders."""
    ids: list[str] = []
    with httpx.Client(base_url=service.base_url, headers=tokens.admin, timeout=30.0) as http:
        for n in range(STUCK):
            body = {"url": hooks.hanging_url(n), "event_types": ["*"]}
            answer = http.post("/v1/subscriptions", json=body)
            if answer.status_code != 201:
                raise BenchError(f"POST /v1/subscriptions: {answer.status_code} {answer.text}")
            ids.append(answer.json()["id"])
            add_deliveries(database_url, ids[-1], BACKLOG)
    deadline = time.monotonic() + HELD_TIMEOUT
    while hooks.stats().hanging < STUCK:
        if time.monotonic() > deadline:
            raise BenchError(f"{hooks.stats().hanging} stuck requests held in {HELD_TIMEOUT} s")
        time.sleep(0.05)
    return ids


def _unstick(service: Server, tokens: Tokens, ids: list[str]) -> None:
    with httpx.Client(base_url=service.base_url, headers=tokens.admin, timeout=30.0) as http:
        for subscription in ids:
            answer = http.delete(f"/v1/subscriptions/{subscription}")
            if answer.status_code != 200:
                raise BenchError(f"DELETE /v1/subscriptions: {answer.status_code}")


def run(options: Options) -> Report:
    workdir = options.workdir
    database_url = servers.service_env(workdir)["RILON_DATABASE_URL"]
    quiet: list[float] = []
    noisy: list[float] = []
    held: list[int] = []
    with (
        receivers(workdir) as hooks,
        servers.rilon(workdir, extra_env=webhooks.ENV) as (service, credentials),
    ):
        tokens = webhooks.tokens(service, credentials)
        hooks.register(webhooks.subscribe(service, tokens, [hooks.url(n) for n in range(HEALTHY)]))
        _timed_alerts(service, tokens, hooks)  # warms the dispatcher's connection pool up
        for round_ in range(options.rounds):
            for phase in ("quiet", "noisy") if round_ % 2 == 0 else ("noisy", "quiet"):
                print(f"  {phase} ({round_ + 1}/{options.rounds}) ", end="", flush=True)
                hooks.reset()
                if phase == "quiet":
                    quiet += _timed_alerts(service, tokens, hooks)
                    print(f"p50 {statistics.median(quiet[-ALERTS:]):.0f} ms")
                    continue
                stuck = _stick(service, tokens, hooks, database_url)
                noisy += _timed_alerts(service, tokens, hooks)
                held.append(hooks.stats().hanging)
                _unstick(service, tokens, stuck)
                print(f"p50 {statistics.median(noisy[-ALERTS:]):.0f} ms")
    return _report(quiet, noisy, held)


def _report(quiet: list[float], noisy: list[float], held: list[int]) -> Report:
    quiet_p50, noisy_p50 = statistics.median(quiet), statistics.median(noisy)
    ratio = noisy_p50 / quiet_p50
    rows = [
        (f"quiet: {HEALTHY} healthy, 201 → last receipt, p50", f"{quiet_p50:,.0f} ms"),
        (f"noisy: {STUCK} stuck beside them, p50", f"{noisy_p50:,.0f} ms"),
        ("ratio noisy / quiet", f"{ratio:.3g}"),
        ("quiet / noisy, max", f"{max(quiet):,.0f} / {max(noisy):,.0f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    table = [f"| {'B5 noisy neighbour':<{width}} | {'figure':>15} |"]
    table.append(f"|{'-' * (width + 2)}|{'-' * 16}:|")
    table += [f"| {name:<{width}} | {value:>15} |" for name, value in rows]
    notes = (
        f"{len(quiet)} quiet and {len(noisy)} noisy alerts; each stuck endpoint holds a request "
        f"{HANG_SECONDS:g} s and had {BACKLOG:,} deliveries due; stuck requests held at the end "
        f"of each noisy phase: {', '.join(str(n) for n in held)}",
        f"target (noisy p50 within {TARGET_RATIO}x of quiet): "
        f"{'met' if ratio <= TARGET_RATIO else 'NOT met'} (ratio {ratio:.3g})",
    )
    return Report("\n".join(table), notes)
