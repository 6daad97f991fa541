"""Real `rilon` processes for tests that kill them: free 127.0.0.1 ports, SIGKILL, restart.

Everything here is asyncio-friendly (tests run a receiver in the same event loop), and every
process started is killed on the way out of `Processes`, whatever happened.
"""

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"
RILON = str(Path(sys.executable).parent / "rilon")
# A `serve` still starting is waited for this long: on a loaded machine (CI) two workers' start
# took over 30 s, and killing one to start another under the same load only starts over.
START_TIMEOUT_SECONDS = 120.0
START_ATTEMPTS = 3  # a free port can be taken between our probe and the child's bind: it exits
# Each test process (pytest-xdist worker gwN) draws ports from a block of its own, below the
# kernel's ephemeral range (32768-60999 here), which bind(0) and outgoing connections use: a
# child can then never answer another test process's health check on a port both chose.
PORT_BLOCKS, PORT_BLOCK_SIZE, FIRST_PORT = 8, 1500, 20000


class ProcessError(RuntimeError):
    """A process would not start, or a command failed."""


def free_port() -> int:
    """A port of this test process's block that nothing listens on now."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    low = FIRST_PORT + (int(worker) if worker.isdigit() else 0) % PORT_BLOCKS * PORT_BLOCK_SIZE
    draw = random.SystemRandom()
    for _ in range(100):
        port = draw.randrange(low, low + PORT_BLOCK_SIZE)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue  # taken, or a closed connection's TIME_WAIT
            return port
    raise ProcessError(f"no free port in {low}-{low + PORT_BLOCK_SIZE - 1}")


def child_env(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """Our environment minus any RILON_* of the caller's shell, plus test settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RILON_")}
    env.update(
        {
            "RILON_ENV": "test",
            "RILON_DATABASE_URL": database_url,
            "RILON_JWT_SECRET": "j" * 48,
            "RILON_SECRETS_KEY": "s" * 40,
            "RILON_DEV_KEY_DIR": str(workdir),
            "RILON_RATE_LIMIT_PER_MINUTE": "0",
            "RILON_WEBHOOK_ALLOW_HTTP": "true",
            "RILON_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
            **extra,
        }
    )
    return env


async def run(workdir: Path, env: dict[str, str], *args: str) -> str:
    """Run a short `rilon` command to completion and return its standard output."""
    done = await asyncio.to_thread(
        subprocess.run,
        [RILON, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise ProcessError(f"rilon {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@dataclass
class Process:
    """One long-running `rilon` command (`serve` gets a fresh free port on every start)."""

    name: str
    args: tuple[str, ...]
    workdir: Path
    env: dict[str, str]
    port: int = 0
    starts: int = 0
    popen: subprocess.Popen[bytes] | None = None

    @property
    def serves(self) -> bool:
        return self.args[0] == "serve"

    def url(self, path: str = "") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def log(self) -> Path:
        return self.workdir / f"{self.name}.{self.starts}.log"

    def tail(self, lines: int = 30) -> str:
        log = self.log()
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def start(self) -> None:
        """Start (again); for `serve`, return once /healthz answers."""
        for _ in range(START_ATTEMPTS):
            self.starts += 1
            argv = [RILON, *self.args]
            if self.serves:
                self.port = free_port()
                argv += ["--host", HOST, "--port", str(self.port)]
            with self.log().open("wb") as out:
                # A session of its own: killpg reaches it and anything it forks, nothing else.
                self.popen = subprocess.Popen(
                    argv,
                    cwd=self.workdir,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if not self.serves or await self._healthy():
                return
            alive = self.popen.poll() is None  # still starting: no port to blame, no retry
            self.kill()
            if alive:
                break
        raise ProcessError(f"{self.name} did not start:\n{self.tail()}")

    async def _healthy(self) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=2) as http:
            while loop.time() < deadline:
                if self.popen is None or self.popen.poll() is not None:
                    return False  # exited: most likely the port was taken meanwhile
                try:
                    if (await http.get(self.url("/healthz"))).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        return False

    def kill(self) -> None:
        """SIGKILL the process and its group: no clean-up at all, as in a power cut."""
        if self.popen is None:
            return
        if self.popen.poll() is None:  # never signal a reaped pid: it may be reused
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.popen.wait(timeout=10)
        self.popen = None


@dataclass
class Processes:
    """The processes of one test, all killed by `close` (see `supervised`)."""

    workdir: Path
    env: dict[str, str]
    started: list[Process] = field(default_factory=list)

    def add(self, name: str, *args: str) -> Process:
        process = Process(name, args, self.workdir, self.env)
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in self.started:
            process.kill()


@contextmanager
def supervised(workdir: Path, env: dict[str, str]) -> Iterator[Processes]:
    processes = Processes(workdir, env)
    try:
        yield processes
    finally:
        processes.close()
