"""B3 list: `GET /v1/alerts?bbox=...&severity=...&limit=50` over 10k and 100k alerts.

The service's database is filled through the service layer (`bench/seed.py`) before it starts,
with records spread over the Bay of Bengal and the Andaman Sea (`bench/dataset.py`); another
agency's duty officer reads them, so the visibility policy runs in the query. The baseline
answers the same 50 records, serialised once at start-up. Each list answer also writes its
audit row (group commit, before the answer goes out), as every /v1 request does.
With `--postgres URL` the same records are also seeded into a scratch PostgreSQL database, and
the list statement is EXPLAINed there (`bench/postgres.py`).
"""

import shutil
from dataclasses import replace
from typing import Any

import httpx

from bench import dataset, postgres, seed, servers
from bench.compare import Comparison, Options, Side, measure
from bench.harness import BenchError
from bench.load import Request
from bench.profiling import profile_load

CLIENT_ID = "demo-my-mmea-duty"  # reads what BD-CG sent: network, and countries naming MY
SIZES = {"10k": 10_000, "100k": 100_000}
TARGET_RATIO, TARGET_GROWTH, TARGET_SPREAD = 0.20, 1.5, 2.0  # DESIGN.md, revision 2


def _page(side: Side) -> tuple[list[dict[str, Any]], int]:
    """The items of one answer, and its size in bytes."""
    request = side.request
    answer = httpx.get(side.server.base_url + request.path, headers=dict(request.headers))
    if not answer.is_success:
        raise BenchError(f"{side.server.name} answered {answer.status_code}: {answer.text[:300]}")
    items: list[dict[str, Any]] = answer.json()["items"]
    return items, len(answer.content)


def _same_rows(base: Side, service: Side) -> str:
    """Both sides must answer the same 50 records, in the same order and shape."""
    (theirs, their_size), (ours, our_size) = _page(base), _page(service)
    cases = [[item["case_id"] for item in items] for items in (theirs, ours)]
    if cases[0] != cases[1] or len(cases[1]) != dataset.LIMIT:
        raise BenchError(f"the pages differ: baseline {cases[0][:3]}…, service {cases[1][:3]}…")
    if [sorted(item) for item in theirs] != [sorted(item) for item in ours]:
        raise BenchError("the baseline's records do not have the service's fields")
    return (
        f"the same {dataset.LIMIT} records on both sides, {cases[1][0]} first; "
        f"{our_size:,} bytes (baseline {their_size:,})"
    )


def _one_size(label: str, count: int, options: Options) -> tuple[Comparison, Comparison]:
    """The service beside both baselines at one size: (against the page as bytes, against the
    same rows serialised each request)."""
    workdir = options.workdir / label
    workdir.mkdir()
    options = replace(options, workdir=workdir)
    reports: list[seed.QueryReport] = []

    def prepare(url: str) -> None:
        print(f"  {label}: seeding {count:,} alerts ... ", end="", flush=True)
        seconds = seed.seed_alerts(url, count)
        print(f"{seconds:.0f} s ({count / seconds:,.0f}/s)")
        reports.append(seed.inspect_list_query(url))
        print(f"  {label}: plan: {' / '.join(reports[0].plan)}")

    try:
        with (
            servers.rilon(workdir, prepare) as (service, credentials),
            servers.baseline(workdir, {"BENCH_LIST_RECORDS": str(count)}) as base,
        ):
            token = servers.access_token(service, CLIENT_ID, credentials[CLIENT_ID])
            auth = {"Authorization": "Bearer " + token}
            sides = {
                "baseline": Side(base, Request(f"/baseline/alerts?{dataset.QUERY}", headers=auth)),
                "rows": Side(base, Request(f"/baseline/alerts/rows?{dataset.QUERY}", headers=auth)),
                "service": Side(service, Request(f"/v1/alerts?{dataset.QUERY}", headers=auth)),
            }
            page = _same_rows(sides["baseline"], sides["service"])
            _same_rows(sides["rows"], sides["service"])
            results = measure(f"GET /v1/alerts {label}", sides, options)
            if options.profile_dir is not None:
                profile_load(
                    sides["service"], options, options.profile_dir / f"b3-list-{label}.txt"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = reports[0]
    rows = Comparison("(same runs)", results["rows"], results["service"], baseline_name="rows")
    return Comparison(
        f"GET /v1/alerts {label}",
        results["baseline"],
        results["service"],
        notes=(
            f"{label}: page: {page}",
            f"{label}: query plan: {' / '.join(report.plan)}",
            f"{label}: the statement alone {report.sql_ms:.2f} ms (sqlite3), "
            f"`list_records` {report.service_ms:.2f} ms (one thread, no load)",
        ),
    ), rows


def _verdict(small: Comparison, large: Comparison, rows: Comparison) -> str:
    service = large.service
    ratio = service.rps / rows.baseline.rps if rows.baseline.rps else 0.0
    growth = small.service.rps / service.rps if service.rps else 0.0  # time a request, 100k/10k
    spread = service.p99_ms / service.p50_ms if service.p50_ms else 0.0
    met = ratio >= TARGET_RATIO and growth <= TARGET_GROWTH and spread <= TARGET_SPREAD
    return (
        f"targets at 100k (>= {TARGET_RATIO} of the rows serialised, <= {TARGET_GROWTH}x the "
        f"10k time a request, p99 <= {TARGET_SPREAD:g}x p50): {'met' if met else 'NOT met'} "
        f"({ratio:.3g} of rows, {growth:.3g}x 10k, p99 {spread:.3g}x p50)"
    )


def run(options: Options) -> list[Comparison]:
    (small, small_rows), (large, large_rows) = (
        _one_size(label, count, options) for label, count in SIZES.items()
    )
    notes = [*large.notes, _verdict(small, large, large_rows)]
    if options.postgres is not None:
        notes += postgres.explain(options.postgres, SIZES, options.workdir / "postgres")
    return [small, small_rows, replace(large, notes=tuple(notes)), large_rows]
