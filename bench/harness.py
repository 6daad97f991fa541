"""Servers under test: one uvicorn worker each, in a temporary directory, on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


class BenchError(RuntimeError):
    """A benchmark could not run, or ran but its figures would be wrong."""


@dataclass(frozen=True)
class Server:
    name: str
    pid: int
    base_url: str
    log: Path

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def venv_script(name: str) -> str:
    """Find a console script installed next to the running interpreter (the project's venv)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise BenchError(f"{path} not found: run the benchmarks with the project's venv python")
    return str(path)


def bench_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of every child: ours, minus any RILON_* the caller's shell set."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RILON_")}
    env.update(extra)
    return env


def log_tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running(
    name: str, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> Iterator["subprocess.Popen[bytes]"]:
    """Start a process logging to `cwd/<name>.log`, and stop it on the way out."""
    with (cwd / f"{name}.log").open("wb") as out:
        # A session of its own: the terminal's Ctrl+C reaches only us, and we stop it below.
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        _stop(proc)


@contextmanager
def serve(
    name: str, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], port: int
) -> Iterator[Server]:
    """Start a server process, wait until /healthz answers, and stop it on the way out."""
    with running(name, argv, cwd=cwd, env=env) as proc:
        log = cwd / f"{name}.log"
        server = Server(name=name, pid=proc.pid, base_url=f"http://{HOST}:{port}", log=log)
        _wait_healthy(proc, server)
        yield server


def _wait_healthy(proc: "subprocess.Popen[bytes]", server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"{server.name} exited with {proc.returncode} before answering:\n"
                + log_tail(server.log)
            )
        try:
            if httpx.get(server.base_url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{server.name} did not answer /healthz within {START_TIMEOUT_SECONDS:.0f} s")


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
