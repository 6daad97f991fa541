"""B1 ingest: `POST /v1/alerts` of the example alert against two baselines.

The service authenticates, validates, checks the registry, and commits the record, its first
version, its outbox event and the audit row durably (SQLite WAL, synchronous=FULL) in the
writer thread's group commit before it answers. The bare baseline validates the same body with
the same model and answers 201 with a small JSON; the naive peer (`bench/naive.py`) also
commits the same four rows, one SQLModel session a request. The three take turns; afterwards a
check run compares what wrk counted with what the service committed.
"""

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import httpx

from bench import servers
from bench.compare import Comparison, Options, Side, measure
from bench.harness import BenchError, Server
from bench.load import Request, run_wrk
from bench.profiling import profile_load
from models.alerts import EXAMPLE

CLIENT_ID = "demo-bd-cg-duty"  # BD-CG may send the example to MY, TH and ID
BODY = json.dumps(EXAMPLE, separators=(",", ":"))
JSON = {"Content-Type": "application/json"}
CHECK_SECONDS = 5.0
SETTLE_SECONDS = 1.0  # requests in flight when wrk stops are still committed: let them land
TARGET_RATIO, TARGET_NAIVE, TARGET_SPREAD = 0.30, 3.0, 2.0  # DESIGN.md, revision 2


def _committed(database: Path) -> tuple[int, int, int]:
    """Alerts, their versions, and the audit rows of successful `POST /v1/alerts`."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        alerts = db.execute("SELECT count(*) FROM record WHERE kind = 'alert'").fetchone()[0]
        versions = db.execute("SELECT count(*) FROM record_version").fetchone()[0]
        audited = db.execute(
            "SELECT count(*) FROM audit_event"
            " WHERE action = 'POST /v1/alerts' AND status_code = 201"
        ).fetchone()[0]
    return int(alerts), int(versions), int(audited)


def _check_committed(side: Side, database: Path, options: Options) -> str:
    """One more run: every 201 wrk counted is in the database, with its version and audit row.

    wrk counts answers, so requests in flight when it closes its connections are committed
    but not counted: at most one per connection.
    """
    time.sleep(SETTLE_SECONDS)  # what the last run left in flight lands before we count
    before = _committed(database)
    print(f"  check: {CHECK_SECONDS:g} s of load, then counting rows ", end="", flush=True)
    load = run_wrk(
        side.server.base_url,
        side.request,
        seconds=CHECK_SECONDS,
        connections=options.connections,
        workdir=options.workdir,
    )
    time.sleep(SETTLE_SECONDS)
    after = _committed(database)
    alerts, versions, audited = (b - a for a, b in zip(before, after, strict=True))
    created = load.requests - load.non_2xx
    print(load.brief())
    summary = (
        f"check run: wrk counted {created:,} answers 201 and {load.non_2xx} others; "
        f"the database gained {alerts:,} alerts, {versions:,} versions, "
        f"{audited:,} audit rows ({alerts - created} committed while in flight)"
    )
    if (
        load.failed
        or not (alerts == versions == audited)
        or not 0 <= alerts - created <= (options.connections)
    ):
        raise BenchError(summary)
    return summary


def _check_readable(service: Server, auth: dict[str, str]) -> str:
    answer = httpx.get(service.base_url + "/v1/alerts?limit=1", headers=auth, timeout=10.0)
    items = answer.json().get("items") if answer.is_success else None
    if not items or items[0].get("case_id") != EXAMPLE["case_id"]:
        raise BenchError(f"GET /v1/alerts?limit=1: {answer.status_code}: {answer.text[:300]}")
    return "after the load, `GET /v1/alerts?limit=1` answers 200 with the newest alert"


def _verdict(bare: Comparison, naive: Comparison) -> str:
    service = bare.service
    ratio = service.rps / bare.baseline.rps if bare.baseline.rps else 0.0
    times = service.rps / naive.baseline.rps if naive.baseline.rps else 0.0
    spread = service.p99_ms / service.p50_ms if service.p50_ms else 0.0
    met = ratio >= TARGET_RATIO and times >= TARGET_NAIVE and spread <= TARGET_SPREAD
    return (
        f"targets (>= {TARGET_RATIO} of bare, >= {TARGET_NAIVE:g}x naive, "
        f"p99 <= {TARGET_SPREAD:g}x p50): {'met' if met else 'NOT met'} "
        f"({ratio:.3g} of bare, {times:.3g}x naive, p99 {spread:.3g}x p50)"
    )


def run(options: Options) -> list[Comparison]:
    workdir = options.workdir
    with (
        servers.baseline(workdir) as base,
        servers.naive(workdir) as peer,
        servers.rilon(workdir) as (service, credentials),
    ):
        if CLIENT_ID not in credentials:
            raise BenchError(f"rilon demo printed no credentials for {CLIENT_ID}")
        token = servers.access_token(service, CLIENT_ID, credentials[CLIENT_ID])
        auth = {"Authorization": "Bearer " + token}
        headers = {**JSON, **auth}
        sides = {
            "baseline": Side(base, Request("/baseline/alerts", "POST", headers, BODY)),
            "naive": Side(peer, Request("/naive/alerts", "POST", headers, BODY)),
            "service": Side(service, Request("/v1/alerts", "POST", headers, BODY)),
        }
        results = measure("POST /v1/alerts", sides, options)
        committed = _check_committed(sides["service"], workdir / "rilon.db", options)
        readable = _check_readable(service, auth)
        if options.profile_dir is not None:
            profile_load(sides["service"], options, options.profile_dir / "b1-ingest.txt")
    bare = Comparison("POST /v1/alerts", results["baseline"], results["service"])
    naive = Comparison("(same runs)", results["naive"], results["service"], baseline_name="naive")
    return [replace(bare, notes=(_verdict(bare, naive), committed, readable)), naive]
