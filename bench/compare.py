"""Service against baseline, in the same run, alternating, and the table of ratios."""

import statistics
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.harness import BenchError, Server
from bench.load import LoadResult, Request, run_wrk

WARMUP_SECONDS = 1.0


@dataclass(frozen=True)
class Options:
    seconds: float
    connections: int
    rounds: int
    workdir: Path
    profile_dir: Path | None
    postgres: str | None = None  # B3: also EXPLAIN the list statement on this server


@dataclass(frozen=True)
class Side:
    """One endpoint of one server: what wrk replays against it."""

    server: Server
    request: Request


@dataclass(frozen=True)
class Comparison:
    case: str
    baseline: LoadResult
    service: LoadResult
    notes: tuple[str, ...] = ()  # checks and figures printed under the table
    baseline_name: str = "baseline"  # B1 also compares with its naive peer

    @property
    def failed(self) -> bool:
        return self.baseline.failed or self.service.failed


@dataclass(frozen=True)
class Report:
    """What a benchmark prints: a table, the notes under it, and whether its figures hold."""

    table: str
    notes: tuple[str, ...] = ()
    failed: bool = False


def report(comparisons: list[Comparison]) -> Report:
    notes = tuple(note for item in comparisons for note in item.notes)
    return Report(table(comparisons), notes, any(item.failed for item in comparisons))


def check_once(side: Side) -> None:
    """Send the request once and insist on a 2xx, so the load measures successes only."""
    request = side.request
    answer = httpx.request(
        request.method,
        side.server.base_url + request.path,
        headers=dict(request.headers),
        content=request.body,
        timeout=10.0,
    )
    if not answer.is_success:
        raise BenchError(
            f"{side.server.name} {request.method} {request.path} answered "
            f"{answer.status_code}: {answer.text[:300]}"
        )


def _load(side: Side, seconds: float, options: Options) -> LoadResult:
    return run_wrk(
        side.server.base_url,
        side.request,
        seconds=seconds,
        connections=options.connections,
        workdir=options.workdir,
    )


def _merge(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        requests=sum(result.requests for result in results),
        seconds=sum(result.seconds for result in results),
        p50_ms=statistics.median(result.p50_ms for result in results),
        p99_ms=statistics.median(result.p99_ms for result in results),
        socket_errors=sum(result.socket_errors for result in results),
        non_2xx=sum(result.non_2xx for result in results),
    )


def measure(case: str, sides: dict[str, Side], options: Options) -> dict[str, LoadResult]:
    """Warm every side up, then take turns (ABC, CBA, ...) so drift on a shared machine cancels."""
    for side in sides.values():
        check_once(side)
        _load(side, WARMUP_SECONDS, options)
    runs: dict[str, list[LoadResult]] = {name: [] for name in sides}
    for round_ in range(options.rounds):
        order = list(sides.items())
        for name, side in order if round_ % 2 == 0 else reversed(order):
            print(f"  {case}: {name} ({round_ + 1}/{options.rounds}) ", end="", flush=True)
            result = _load(side, options.seconds, options)
            runs[name].append(result)
            print(result.brief())
    return {name: _merge(results) for name, results in runs.items()}


def compare(case: str, baseline: Side, service: Side, options: Options) -> Comparison:
    results = measure(case, {"baseline": baseline, "service": service}, options)
    return Comparison(case, results["baseline"], results["service"])


def _row(case: str, side: str, result: LoadResult) -> str:
    flag = f" FAILED: {result.brief()}" if result.failed else ""
    return (
        f"| {case:<24} | {side:<8} | {result.rps:>9,.0f} | {result.p50_ms:>8.1f} "
        f"| {result.p99_ms:>8.1f} |{flag}"
    )


def table(comparisons: list[Comparison]) -> str:
    """A Markdown table: both sides of each case, and the service / baseline ratios."""
    lines = [
        f"| {'case':<24} | {'side':<8} | {'req/s':>9} | {'p50 ms':>8} | {'p99 ms':>8} |",
        f"|{'-' * 26}|{'-' * 10}|{'-' * 10}:|{'-' * 9}:|{'-' * 9}:|",
    ]
    for item in comparisons:
        base, serv = item.baseline, item.service
        lines.append(_row(item.case, item.baseline_name, base))
        lines.append(_row("", "service", serv))
        lines.append(
            f"| {'':<24} | {'ratio':<8} | {_ratio(serv.rps, base.rps):>9} "
            f"| {_ratio(serv.p50_ms, base.p50_ms):>8} | {_ratio(serv.p99_ms, base.p99_ms):>8} |"
        )
    return "\n".join(lines)


def _ratio(service: float, baseline: float) -> str:
    if baseline <= 0:
        return "n/a"
    return f"{service / baseline:.3g}"
