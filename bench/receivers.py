"""Webhook receivers for B2 and B4: one aiohttp process, one path per subscription, verifying all.

A process of its own, so that neither the service nor the bench driver pays for receiving.
Every POST to `/hook/<n>` is verified inline with standardwebhooks `Webhook(secret).verify`
(the secret its subscription got) and counted with the time it arrived (`time.monotonic()`,
one clock for every process of the machine). A POST to `/hang/<n>` is held HANG_SECONDS
before its answer (B5's stuck partners). The driver registers the secrets and reads the
counts through `/_bench/*`. Run it with `python -m bench.receivers --port P`.
"""

import argparse
import asyncio
import bisect
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvloop
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.harness import HOST, REPO, BenchError, Server, bench_env, free_port, serve

PREFIX = "/hook/"
HANG_PREFIX = "/hang/"
HANG_SECONDS = 30.0


@dataclass
class Tally:
    """What arrived since the last reset."""

    hooks: dict[str, Webhook] = field(default_factory=dict)  # path -> verifier
    times: list[float] = field(default_factory=list)  # arrival of each verified delivery
    records: dict[str, list[float]] = field(default_factory=dict)  # id -> [count, first, last]
    seen: set[tuple[str, str]] = field(default_factory=set)  # (path, webhook-id)
    failed: int = 0
    sample: str = ""
    hanging: int = 0  # requests held at /hang/ now

    def reset(self) -> None:
        self.times, self.records, self.seen = [], {}, set()
        self.failed, self.sample = 0, ""


def app() -> web.Application:
    tally = Tally()

    async def hook(request: web.Request) -> web.Response:
        body = await request.text()
        arrived = time.monotonic()
        verifier = tally.hooks.get(request.path)
        try:
            if verifier is None:
                raise WebhookVerificationError(f"no secret for {request.path}")
            event: dict[str, Any] = verifier.verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError):
            tally.failed += 1
            return web.Response(status=400, text="bad signature")
        tally.times.append(arrived)
        tally.seen.add((request.path, request.headers["webhook-id"]))
        record = str((event.get("data") or {}).get("id"))
        count = tally.records.setdefault(record, [0, arrived, 0.0])
        count[0], count[2] = count[0] + 1, arrived
        tally.sample = body
        return web.Response(text="ok")

    async def hang(_request: web.Request) -> web.Response:
        tally.hanging += 1
        try:
            await asyncio.sleep(HANG_SECONDS)
        finally:
            tally.hanging -= 1
        return web.Response(text="late")

    async def register(request: web.Request) -> web.Response:
        secrets: dict[str, str] = await request.json()
        tally.hooks.update({path: Webhook(secret) for path, secret in secrets.items()})
        return web.json_response({"paths": len(tally.hooks)})

    async def reset(_request: web.Request) -> web.Response:
        tally.reset()
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        after = float(request.query.get("after", "0"))
        before = float(request.query.get("before", "inf"))
        window = bisect.bisect_right(tally.times, before) - bisect.bisect_left(tally.times, after)
        return web.json_response(
            {
                "verified": len(tally.times),
                "distinct": len(tally.seen),
                "failed": tally.failed,
                "in_window": window,
                "last": tally.times[-1] if tally.times else None,
                "hanging": tally.hanging,
            }
        )

    async def record(request: web.Request) -> web.Response:
        count, first, last = tally.records.get(request.match_info["id"], [0, 0.0, 0.0])
        return web.json_response({"count": int(count), "first": first, "last": last})

    async def sample(_request: web.Request) -> web.Response:
        return web.Response(text=tally.sample, content_type="application/json")

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    application = web.Application()
    application.add_routes(
        [
            web.post(PREFIX + "{n}", hook),
            web.post(HANG_PREFIX + "{n}", hang),
            web.post("/_bench/secrets", register),
            web.post("/_bench/reset", reset),
            web.get("/_bench/stats", stats),
            web.get("/_bench/record/{id}", record),
            web.get("/_bench/sample", sample),
            web.get("/healthz", healthz),
        ]
    )
    return application


@dataclass(frozen=True)
class Stats:
    verified: int
    distinct: int
    failed: int
    in_window: int
    last: float | None
    hanging: int


@dataclass(frozen=True)
class Receivers:
    """The driver's handle on the receiver process."""

    server: Server

    def url(self, n: int) -> str:
        return f"{self.server.base_url}{PREFIX}{n:04d}"

    def hanging_url(self, n: int) -> str:
        return f"{self.server.base_url}{HANG_PREFIX}{n:04d}"

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = httpx.request(method, self.server.base_url + path, timeout=30.0, **kwargs)
        if not answer.is_success:
            raise BenchError(f"receivers {method} {path}: {answer.status_code} {answer.text[:200]}")
        return answer

    def register(self, secrets: Mapping[str, str]) -> None:
        """Secrets by URL, as the subscriptions were created."""
        base = self.server.base_url
        self._call(
            "POST", "/_bench/secrets", json={u.removeprefix(base): s for u, s in secrets.items()}
        )

    def reset(self) -> None:
        self._call("POST", "/_bench/reset")

    def stats(self, after: float = 0.0, before: float = float("inf")) -> Stats:
        query = {"after": repr(after), "before": repr(before)}
        return Stats(**self._call("GET", "/_bench/stats", params=query).json())

    def record(self, record_id: str) -> tuple[int, float, float]:
        """How many verified deliveries of this record arrived, when the last did and when
        the first did (in that order: the last is what most callers want)."""
        found = self._call("GET", f"/_bench/record/{record_id}").json()
        return int(found["count"]), float(found["last"]), float(found["first"])

    def sample(self) -> str:
        return self._call("GET", "/_bench/sample").text


@contextmanager
def receivers(workdir: Path) -> Iterator[Receivers]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.receivers", "--port", str(port)]
    env = bench_env({"PYTHONPATH": str(REPO)})
    with serve("receivers", argv, cwd=workdir, env=env, port=port) as server:
        yield Receivers(server)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the benchmark's webhook receivers")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(
        app(),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
