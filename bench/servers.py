"""The two servers every benchmark compares: the service on seeded SQLite, and the baseline."""

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.harness import HOST, REPO, BenchError, Server, bench_env, free_port, serve, venv_script


def service_env(workdir: Path) -> dict[str, str]:
    return bench_env(
        {
            "RILON_ENV": "dev",
            "RILON_DATABASE_URL": f"sqlite:///{workdir / 'rilon.db'}",
            "RILON_JWT_SECRET": secrets.token_urlsafe(36),  # 48 characters
            "RILON_RATE_LIMIT_PER_MINUTE": "0",  # the limiter would answer 429s, not measure
        }
    )


def seed_demo(workdir: Path, env: dict[str, str]) -> dict[str, str]:
    """Run `rilon demo` and return the secret of every demo client it printed."""
    done = subprocess.run(
        [venv_script("rilon"), "demo"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"rilon demo failed:\n{done.stdout}{done.stderr}")
    secrets_by_client: dict[str, str] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("demo-") and parts[-1].startswith("rls_"):
            secrets_by_client[parts[0]] = parts[-1]
    if not secrets_by_client:
        raise BenchError(f"no demo credentials in the output of rilon demo:\n{done.stdout}")
    return secrets_by_client


def access_token(service: Server, client_id: str, secret: str) -> str:
    """Get one access token (valid 15 minutes) for a demo client."""
    form = urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    answer = httpx.post(
        service.base_url + "/v1/auth/token",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    if answer.status_code != 200:
        raise BenchError(f"token request answered {answer.status_code}: {answer.text[:300]}")
    token: str = answer.json()["access_token"]
    return token


@contextmanager
def rilon(
    workdir: Path,
    prepare: Callable[[str], None] | None = None,
    extra_env: Mapping[str, str] | None = None,
    serve_args: Sequence[str] = (),
) -> Iterator[tuple[Server, dict[str, str]]]:
    """Seed the demo network, run `prepare(database_url)`, then serve it (one worker)."""
    env = {**service_env(workdir), **(extra_env or {})}
    credentials = seed_demo(workdir, env)
    if prepare is not None:
        prepare(env["RILON_DATABASE_URL"])
    port = free_port()
    # No access log: the baseline writes none either, and the ratios stay comparable with the
    # figures in docs/PERFORMANCE.md, measured before `rilon serve` logged each request.
    argv = [venv_script("rilon"), "serve", "--host", HOST, "--port", str(port), "--no-access-log"]
    argv += serve_args
    with serve("service", argv, cwd=workdir, env=env, port=port) as server:
        yield server, credentials


@contextmanager
def baseline(workdir: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """Serve bench/baseline.py the way `rilon serve` serves the service."""
    env = bench_env({"PYTHONPATH": str(REPO), **(extra_env or {})})
    port = free_port()
    argv = [sys.executable, "-m", "bench.baseline", "--host", HOST, "--port", str(port)]
    with serve("baseline", argv, cwd=workdir, env=env, port=port) as server:
        yield server


@contextmanager
def naive(workdir: Path) -> Iterator[Server]:
    """Serve bench/naive.py (B1's second baseline) on a SQLite file of its own."""
    env = bench_env({"PYTHONPATH": str(REPO)})
    port = free_port()
    database = str(workdir / "naive.db")
    argv = [sys.executable, "-m", "bench.naive", "--host", HOST, "--port", str(port)]
    with serve("naive", argv + ["--database", database], cwd=workdir, env=env, port=port) as server:
        yield server
