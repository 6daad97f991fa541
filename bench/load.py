"""The load generator: wrk, driven by a generated Lua script that reports exact figures."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import BenchError

WRK_INSTALL = "sudo apt-get install -y wrk"
WRK_THREADS = 1  # leave the second core to the server's thread pool
WRK_TIMEOUT = "30s"  # Argon2-bound requests queue for seconds; they are slow, not failed

# wrk calls done() once after the run; the latency figures it holds are in microseconds.
_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %.0f %.0f %d %d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class Request:
    """One request, replayed by every connection for the whole run."""

    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    non_2xx: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> bool:
        return self.socket_errors > 0 or self.non_2xx > 0

    def brief(self) -> str:
        text = f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"
        if self.failed:
            text += f"; FAILED: {self.socket_errors} socket errors, {self.non_2xx} non-2xx"
        return text


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(f"wrk is not installed; install it with: {WRK_INSTALL}")
    return path


def lua_string(value: str) -> str:
    if not value.isascii() or not value.isprintable():
        raise BenchError(f"refusing to put a non-printable or non-ASCII string in Lua: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(request: Request) -> str:
    lines = [f"wrk.method = {lua_string(request.method)}"]
    if request.body is not None:
        lines.append(f"wrk.body = {lua_string(request.body)}")
    lines += [
        f"wrk.headers[{lua_string(key)}] = {lua_string(value)}"
        for key, value in request.headers.items()
    ]
    return "\n".join(lines) + "\n" + _DONE


def run_wrk(
    base_url: str, request: Request, *, seconds: float, connections: int, workdir: Path
) -> LoadResult:
    """Replay `request` on `connections` keep-alive connections for `seconds`."""
    handle, name = tempfile.mkstemp(prefix="wrk-", suffix=".lua", dir=workdir)
    with os.fdopen(handle, "w") as out:
        out.write(lua_script(request))
    argv = [
        require_wrk(),
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={WRK_TIMEOUT}",
        "--latency",
        "-s",
        name,
        base_url + request.path,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            count, micros, p50, p99, errors, status = (int(part) for part in line.split()[1:])
            return LoadResult(count, micros / 1e6, p50 / 1e3, p99 / 1e3, errors, status)
    raise BenchError(f"wrk gave no figures (exit {done.returncode}):\n{done.stdout}{done.stderr}")
