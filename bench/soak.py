"""`python -m bench soak --minutes 10`: mixed traffic against a real `rilon serve` for a while.

Posts at a fixed rate, lists, feed long-polls, and fan-out of every alert to 100 local
receivers of which 5 always answer 500. Every few seconds: the server's RSS and open
descriptors (/proc/<pid>), the outbox (events not yet expanded, deliveries never tried) and
how late deliveries arrive. At the end, after a drain (until all has arrived, nothing arrives
for 30 s, or 5 minutes): every (alert, healthy receiver) pair delivered ("lost" counts those
that have not), every delivery to a failing receiver attempted, no request failed,
memory and descriptors flat in the second half. `judge` names whatever did not hold.
"""

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean

import httpx
from sqlalchemy import Engine, create_engine
from standardwebhooks.webhooks import Webhook

from bench import servers
from bench.harness import BenchError, Server
from bench.soak_probes import Ports, ProcessSample, outbox_sample, process_sample, unattempted
from bench.soak_traffic import (
    CLIENT_KEEPALIVE_SECONDS,
    CLIENT_TIMEOUT_SECONDS,
    Failure,
    Receivers,
    Traffic,
)
from core.db import normalize_url
from models.alerts import EXAMPLE

DRAIN_SECONDS = 300.0  # at most; the drain ends sooner once nothing arrives for STALL_SECONDS
STALL_SECONDS = 30.0
RSS_GROWTH_LIMIT = 0.20  # second half over its start
FD_SLACK = 64  # the second half may peak above the first: webhook connections open on demand
LAG_LIMIT_MS = 15_000.0  # a healthy delivery arrives within this of its event


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

    @property
    def serve(self) -> ProcessSample:
        return self.processes["serve"]


@dataclass
class SoakResult:
    seconds: float
    rate: float
    database: str
    samples: list[Sample] = field(default_factory=list)
    posted: int = 0
    expected_pairs: int = 0
    lost: int = 0
    duplicates: int = 0
    bad_signatures: int = 0
    failing_unattempted: int = 0
    failing_answers: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    lost_answers: list[Failure] = field(default_factory=list)
    drain_seconds: float = 0.0
    lag_max_ms: float = 0.0

    def summary(self) -> str:
        first, mid, last = self.samples[0], self.samples[len(self.samples) // 2], self.samples[-1]
        return "\n".join(
            [
                f"soak {self.seconds:.0f} s on {self.database}, {self.rate:g} posts/s asked, "
                f"{self.posted / self.seconds:.2f} achieved, "
                f"{len(self.samples)} samples",
                f"RSS KiB  start {first.serve.rss_kib}  half {mid.serve.rss_kib}"
                f"  end {last.serve.rss_kib}  (second half {growth(self):+.1%})",
                f"fds      start {first.serve.fds}  half {mid.serve.fds}  end {last.serve.fds}"
                f"  max {max(s.serve.fds for s in self.samples)}",
                f"posted {self.posted}, pairs expected {self.expected_pairs}, lost {self.lost}, "
                f"duplicates {self.duplicates}, bad signatures {self.bad_signatures}",
                f"failing receivers: {self.failing_answers} attempts answered 500, "
                f"{self.failing_unattempted} deliveries never tried",
                f"delivery lag p99 worst sample {max(s.lag_p99_ms for s in self.samples):.0f} ms,"
                f" max {self.lag_max_ms:.0f} ms; drain {self.drain_seconds:.1f} s",
                f"request failures: {self.failures or 'none'}",
                *(
                    f"  {f.method} at {f.t:.1f} s: {f.kind} after {f.elapsed_ms:.0f} ms: "
                    f"{f.message}"
                    for f in self.lost_answers
                ),
            ]
        )


def growth(result: SoakResult) -> float:
    half = result.samples[len(result.samples) // 2 :]
    start, end = half[0].serve.rss_kib, mean(s.serve.rss_kib for s in half[-3:])
    return (end - start) / start


def judge(result: SoakResult) -> list[str]:
    """What did not hold, in words (empty when the soak passed)."""
    problems = []
    samples = result.samples
    if len(samples) < 6:
        return [f"only {len(samples)} samples: run longer"]
    first, second = samples[: len(samples) // 2], samples[len(samples) // 2 :]
    if result.lost or result.bad_signatures:
        problems.append(f"{result.lost} lost, {result.bad_signatures} badly signed")
    if result.failing_unattempted:
        problems.append(f"{result.failing_unattempted} deliveries to failing receivers untried")
    if result.failures:
        problems.append(f"requests failed: {result.failures}")
    if growth(result) > RSS_GROWTH_LIMIT:
        problems.append(f"RSS grew {growth(result):.1%} in the second half")
    if max(s.serve.fds for s in second) > max(s.serve.fds for s in first) + FD_SLACK:
        problems.append("open descriptors grew in the second half")
    if max(s.lag_p99_ms for s in second) > LAG_LIMIT_MS:
        problems.append(f"deliveries lagged over {LAG_LIMIT_MS:.0f} ms")
    return problems


async def _login(http: httpx.AsyncClient, client: str, secret: str) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": client, "client_secret": secret}
    answer = await http.post("/v1/auth/token", data=form)
    if answer.status_code != 200:
        raise BenchError(f"token for {client}: {answer.status_code} {answer.text[:200]}")
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _subscribe(http: httpx.AsyncClient, admin: dict[str, str], hooks: Receivers) -> set[str]:
    """Subscribe every receiver; return the ids of the failing ones' subscriptions."""
    failing = set()
    for path in hooks.paths():
        body = {"url": f"http://127.0.0.1:{hooks.port}{path}", "event_types": ["alert.created"]}
        answer = await http.post("/v1/subscriptions", json=body, headers=admin)
        if answer.status_code != 201:
            raise BenchError(f"subscribe: {answer.status_code} {answer.text[:200]}")
        hooks.hooks[path] = Webhook(answer.json()["secret"])
        if hooks.failing(path):
            failing.add(answer.json()["id"])
    return failing


async def drive(
    server: Server, creds: dict[str, str], url: str, seconds: float, rate: float, every: float
) -> SoakResult:
    result = SoakResult(seconds, rate, url.split(":", 1)[0])
    hooks = Receivers(count=100, failing_every=20)
    await hooks.start()
    engine = create_engine(normalize_url(url))
    limits = httpx.Limits(max_connections=16, keepalive_expiry=CLIENT_KEEPALIVE_SECONDS)
    try:
        async with httpx.AsyncClient(
            base_url=server.base_url, timeout=CLIENT_TIMEOUT_SECONDS, limits=limits
        ) as http:
            admin = await _login(http, "demo-th-mecc-admin", creds["demo-th-mecc-admin"])
            failing = await _subscribe(http, admin, hooks)
            traffic = Traffic(
                server.base_url,
                await _login(http, "demo-bd-cg-duty", creds["demo-bd-cg-duty"]),
                await _login(http, "demo-th-mecc-duty", creds["demo-th-mecc-duty"]),
                rate,
            )
            body = {**EXAMPLE, "handling": {"distribution": "network", "tlp": "amber"}}
            loops = [traffic.post(http, body), traffic.list(http), traffic.feed(http)]
            tasks = [asyncio.create_task(loop) for loop in loops]
            ports = Ports(server.port, hooks.port, None, url.removeprefix("sqlite:///"))
            began = traffic.began = time.monotonic()
            while time.monotonic() - began < seconds:
                await asyncio.sleep(every)
                result.samples.append(_sample(server, ports, engine, hooks, traffic))
            traffic.stop.set()
            await asyncio.gather(*tasks)
            expected = {(p, a) for a in traffic.posted for p in hooks.paths()}
            expected = {(p, a) for p, a in expected if not hooks.failing(p)}
            drained = progressed = time.monotonic()
            seen = len(hooks.delivered)
            while time.monotonic() - drained < DRAIN_SECONDS:
                if not expected - hooks.delivered and not unattempted(engine, failing):
                    break
                if len(hooks.delivered) > seen:
                    seen, progressed = len(hooks.delivered), time.monotonic()
                elif time.monotonic() - progressed > STALL_SECONDS:
                    break
                await asyncio.sleep(0.5)
            result.drain_seconds = time.monotonic() - drained
            result.posted, result.expected_pairs = len(traffic.posted), len(expected)
            result.lost = len(expected - hooks.delivered)
            result.failing_unattempted = unattempted(engine, failing)
            result.failures = traffic.failures()
            result.lost_answers = traffic.lost_answers
    finally:
        engine.dispose()
        await hooks.stop()
    result.duplicates, result.bad_signatures = hooks.duplicates, hooks.bad_signatures
    result.failing_answers, result.lag_max_ms = hooks.refused, max(hooks.lags_ms, default=0)
    return result


def _sample(
    server: Server, ports: Ports, engine: Engine, hooks: Receivers, traffic: Traffic
) -> Sample:
    processes = {"serve": process_sample(server.pid, ports)}
    unexpanded, untried = outbox_sample(engine)
    lags = sorted(hooks.lags_ms[-2000:]) or [0.0]
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    posted, delivered = len(traffic.posted), len(hooks.delivered)
    t = round(time.monotonic() - traffic.began, 1)
    return Sample(
        t, processes, unexpanded, untried, round(p99, 1), posted, delivered, traffic.take_slowest()
    )


def run(workdir: Path, seconds: float, rate: float = 1.0, every: float = 5.0) -> SoakResult:
    """Seed the demo network on SQLite in `workdir`, serve it, soak it."""
    extra = {
        "RILON_WEBHOOK_ALLOW_HTTP": "true",
        "RILON_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "RILON_MAX_SUBSCRIPTIONS_PER_AGENCY": "200",
        "RILON_TOKEN_TTL_SECONDS": "3600",
    }
    with servers.rilon(workdir, extra_env=extra) as (server, creds):
        url = f"sqlite:///{workdir / 'rilon.db'}"
        return asyncio.run(drive(server, creds, url, seconds, rate, every))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0, help="alerts posted a second")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rilon-soak-") as tmp:
        result = run(Path(tmp), args.minutes * 60, args.rate, args.every)
    print(
        f"{'t s':>7} {'RSS KiB':>9} {'fds':>5} {'hooks':>5} {'cli':>4} {'db':>4} {'rest':>4}"
        f" {'unexp':>6} {'untried':>8} {'lag p99':>8} {'list max':>8}"
    )
    for s in result.samples:
        p = s.serve
        print(
            f"{s.t:7.0f} {p.rss_kib:9d} {p.fds:5d} {p.webhooks:5d} {p.clients:4d}"
            f" {p.database:4d} {p.rest:4d} {s.unexpanded:6d} {s.untried:8d}"
            f" {s.lag_p99_ms:8.0f} {s.slowest_ms.get('LIST', 0):8.0f}"
        )
    print(result.summary())
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=1))
    problems = judge(result)
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0
