"""The soak's figures and its verdict: what must hold after minutes of mixed traffic.

Descriptors are judged by what they are open on (tools/soak/probes.py), because a count alone
cannot tell a pool from a leak. The 2026-12-02 full soak showed why: the server's descriptors
stepped from 139 to 226 once and stayed there, which a pool reaching a new high-water mark and a
leak's first step both look like. So:

- sockets to the webhook receivers may rise whenever deliveries overlap (two posts' fan-outs
  in flight at once need twice the connections) and the pool then keeps them, taking idle ones
  oldest first; what matters is that they never exceed the transport's limit
  (delivery/transport.py MAX_CONNECTIONS, tests/test_transport_pool.py), and that none the
  receiver has closed lingers on our side (CLOSE_WAIT: a connection nobody will close);
- database descriptors stay within what the engines' pools may hold, clients' sockets within
  what the driver opens;
- everything else (files, pipes, epoll, eventfds, other sockets) is flat: its peak in the
  second half is at most REST_SLACK above its peak in the first. A leak of a descriptor per
  minute or more shows there in a 10-minute run.
"""

from dataclasses import dataclass, field
from statistics import mean

from tools.soak.probes import ProcessSample
from tools.soak.traffic import Failure

RSS_GROWTH_LIMIT = 0.20  # second half over its start
REST_SLACK = 4
SESSIONS_SLACK = 4  # PostgreSQL connections opened in the second half: pools are warm by then
CLOSE_WAIT_LIMIT = 4  # at one sample: a receiver's close we have not yet seen, not a leak
LAG_LIMIT_MS = 15_000.0  # a healthy delivery arrives within this of its event
RATE_KEPT = 0.9  # of the rate asked, posts and background posts alike


@dataclass(frozen=True)
class Bounds:
    """What each pool may hold with the configuration the soak ran."""

    webhooks: int  # the webhook transport's connection limit
    clients: int  # the driver's connections to the API, and the listener
    database: dict[str, int]  # by process: descriptors its engines' pools may hold


@dataclass
class Sample:
    t: float
    processes: dict[str, ProcessSample]  # "serve" (and "worker"): memory, descriptors by kind
    unexpanded: int
    untried: int
    lag_p99_ms: float
    posted: int
    delivered: int
    slowest_ms: dict[str, float]  # the slowest answer of each kind since the last sample
    driver_cpu_s: float  # the driver's own user and system time so far (receivers included)
    sessions: int | None = None  # PostgreSQL: connections opened to the database so far


@dataclass
class SoakResult:
    seconds: float
    rate: float
    database: str
    bounds: Bounds
    background: float = 0.0  # asked, a second: posts no subscription matches
    start: Sample | None = None  # as the traffic began
    samples: list[Sample] = field(default_factory=list)
    posted: int = 0
    background_posted: int = 0
    expected_pairs: int = 0
    lost: int = 0
    duplicates: int = 0
    bad_signatures: int = 0
    stray: int = 0
    failing_expected: int = 0  # deliveries to failing receivers: posts x failing receivers
    failing_kept: int = 0  # of those, pending: waiting for their receiver to answer again
    failing_dropped: int = 0  # given up (or gone): none should be, within the retry schedule
    failing_unprobed: int = 0  # failing receivers never tried at all
    failing_answers: int = 0
    answers: dict[str, int] = field(default_factory=dict)  # "LIST 200" -> how many
    failures: dict[str, int] = field(default_factory=dict)
    lost_answers: list[Failure] = field(default_factory=list)
    drain_seconds: float = 0.0
    lag_max_ms: float = 0.0

    def halves(self) -> tuple[list[Sample], list[Sample]]:
        middle = len(self.samples) // 2
        return self.samples[:middle], self.samples[middle:]

    def summary(self) -> str:
        lines = [
            f"soak {self.seconds:.0f} s on {self.database}: {self.rate:g} fanned-out posts/s "
            f"asked, {self.posted / self.seconds:.2f} achieved; {self.background:g} background "
            f"posts/s asked, {self.background_posted / self.seconds:.1f} achieved; "
            f"{len(self.samples)} samples",
        ]
        for name in self.samples[0].processes:
            first, second = self.halves()
            rss = [s.processes[name].rss_kib for s in self.samples]
            fds = [s.processes[name] for s in self.samples]
            lines += [
                f"{name}: RSS KiB start {rss[0]} half {second[0].processes[name].rss_kib} "
                f"end {rss[-1]} (second half {growth(self, name):+.1%}); "
                f"fds start {fds[0].fds} end {fds[-1].fds} max {max(p.fds for p in fds)}; "
                f"webhook sockets max {max(p.webhooks for p in fds)} "
                f"(limit {self.bounds.webhooks}); rest max {_peak(first, name, 'rest')} "
                f"then {_peak(second, name, 'rest')}",
            ]
        lines += [
            f"posted {self.posted}, pairs expected {self.expected_pairs}, lost {self.lost}, "
            f"duplicates {self.duplicates}, bad signatures {self.bad_signatures}, "
            f"stray {self.stray}",
            f"failing receivers: {self.failing_answers} attempts answered 500, "
            f"{self.failing_kept} of {self.failing_expected} deliveries kept pending, "
            f"{self.failing_dropped} dropped, {self.failing_unprobed} receivers never tried",
            f"database connections opened: {_opened(self.samples)} over the run, "
            f"{_opened(self.halves()[1])} in the second half",
            f"delivery lag p99 worst sample {max(s.lag_p99_ms for s in self.samples):.0f} ms,"
            f" max {self.lag_max_ms:.0f} ms; drain {self.drain_seconds:.1f} s",
            "slowest answers: "
            + ", ".join(f"{kind} {ms:.0f} ms" for kind, ms in sorted(slowest(self).items())),
            "requests: " + ", ".join(f"{key} x{n}" for key, n in self.answers.items()),
            f"request failures: {self.failures or 'none'}",
            *(
                f"  {f.method} at {f.t:.1f} s: {f.kind} after {f.elapsed_ms:.0f} ms: {f.message}"
                for f in self.lost_answers
            ),
        ]
        return "\n".join(lines)

    def table(self) -> list[str]:
        """One line a sample: each process's memory and descriptors by kind, then the outbox."""
        names = list(self.samples[0].processes)
        head = f"{'t s':>6}"
        for name in names:
            head += f" | {name + ' RSS KiB':>14} {'cpu':>4} {'fds':>4} {'hooks':>5} {'cw':>2}"
            head += f" {'cli':>3} {'db':>3} {'rest':>4}"
        head += f" | {'driver':>6} | {'unexp':>5} {'untried':>7} {'lag p99':>7} {'list max':>8}"
        lines = [head]
        before = self.start
        for s in self.samples:
            line = f"{s.t:6.0f}"
            for name in names:
                p = s.processes[name]
                cpu = _share(p.cpu_s, before.processes[name].cpu_s if before else 0, s, before)
                line += f" | {p.rss_kib:14d} {cpu:4.0%} {p.fds:4d} {p.webhooks:5d}"
                line += f" {p.webhooks_close_wait:2d} {p.clients:3d} {p.database:3d} {p.rest:4d}"
            driver = _share(s.driver_cpu_s, before.driver_cpu_s if before else 0, s, before)
            line += f" | {driver:6.0%} | {s.unexpanded:5d} {s.untried:7d} {s.lag_p99_ms:7.0f}"
            lines.append(line + f" {s.slowest_ms.get('LIST', 0):8.0f}")
            before = s
        return lines


def _share(cpu_s: float, cpu_before: float, now: Sample, before: Sample | None) -> float:
    """CPU time used between two samples over the wall time between them (1.0: one core)."""
    wall = now.t - (before.t if before else 0.0)
    return (cpu_s - cpu_before) / wall if wall > 0 else 0.0


def growth(result: SoakResult, process: str = "serve") -> float:
    _, second = result.halves()
    start = second[0].processes[process].rss_kib
    end = mean(s.processes[process].rss_kib for s in second[-3:])
    return (end - start) / start


def slowest(result: SoakResult) -> dict[str, float]:
    found: dict[str, float] = {}
    for sample in result.samples:
        for kind, ms in sample.slowest_ms.items():
            found[kind] = max(found.get(kind, 0.0), ms)
    return found


def _peak(samples: list[Sample], process: str, kind: str) -> int:
    return max(int(getattr(s.processes[process], kind)) for s in samples)


def judge(result: SoakResult) -> list[str]:
    """What did not hold, in words (empty when the soak passed)."""
    problems = []
    samples = result.samples
    if len(samples) < 6:
        return [f"only {len(samples)} samples: run longer"]
    first, second = result.halves()
    if result.lost or result.bad_signatures:
        problems.append(f"{result.lost} lost, {result.bad_signatures} badly signed")
    if result.stray:
        problems.append(f"{result.stray} alerts delivered that no subscription asked for")
    if result.failing_kept != result.failing_expected or result.failing_dropped:
        problems.append(
            f"of {result.failing_expected} deliveries to failing receivers, "
            f"{result.failing_kept} kept and {result.failing_dropped} dropped"
        )
    if result.failing_unprobed:
        problems.append(f"{result.failing_unprobed} failing receivers never tried")
    if result.failures:
        problems.append(f"requests failed: {result.failures}")
    for asked, done, what in (
        (result.rate, result.posted, "posts"),
        (result.background, result.background_posted, "background posts"),
    ):
        if done < asked * result.seconds * RATE_KEPT:
            problems.append(f"{what} fell behind: {done / result.seconds:.2f}/s of {asked:g}")
    for name in samples[0].processes:
        problems += [f"{name}: {problem}" for problem in _judge_process(result, name)]
    if max(s.lag_p99_ms for s in second) > LAG_LIMIT_MS:
        problems.append(f"deliveries lagged over {LAG_LIMIT_MS:.0f} ms")
    if (opened := _opened(second)) is not None and opened > SESSIONS_SLACK:
        problems.append(f"{opened} database connections opened in the second half (churn)")
    return problems


def _opened(samples: list[Sample]) -> int | None:
    """Database connections opened between the first and the last of these samples."""
    if samples[0].sessions is None or samples[-1].sessions is None:
        return None
    return samples[-1].sessions - samples[0].sessions


def _judge_process(result: SoakResult, name: str) -> list[str]:
    problems = []
    first, second = result.halves()
    bounds = result.bounds
    if growth(result, name) > RSS_GROWTH_LIMIT:
        problems.append(f"RSS grew {growth(result, name):.1%} in the second half")
    if (peak := _peak(result.samples, name, "webhooks")) > bounds.webhooks:
        problems.append(f"{peak} sockets to receivers, over the transport's {bounds.webhooks}")
    if (peak := _peak(second, name, "webhooks_close_wait")) > CLOSE_WAIT_LIMIT:
        problems.append(f"{peak} sockets the receivers closed still open (a leak)")
    if (peak := _peak(result.samples, name, "clients")) > bounds.clients:
        problems.append(f"{peak} client sockets, over the {bounds.clients} the driver opens")
    if (peak := _peak(result.samples, name, "database")) > bounds.database[name]:
        problems.append(f"{peak} database descriptors, over the pools' {bounds.database[name]}")
    before, after = _peak(first, name, "rest"), _peak(second, name, "rest")
    if after > before + REST_SLACK:
        problems.append(f"other descriptors grew in the second half ({before} -> {after})")
    return problems
