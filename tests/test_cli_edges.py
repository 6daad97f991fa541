"""What an operator types wrong at 3 a.m.: every `rilon` verb refuses it in one line, with a
non-zero exit, changing nothing, and never answers with a traceback."""

import subprocess
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import select
from typer.testing import CliRunner

import cli.main
from cli.main import app
from core.db import Database
from core.migrations import upgrade
from core.settings import get_settings
from models.registry import Country
from tests.processes import RILON, child_env, free_port


def _rilon(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, list[str]]:
    """Run the real command (its entry point is where tracebacks would escape)."""
    done = subprocess.run(
        [RILON, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stderr.splitlines()


def _one_error_line(lines: list[str]) -> None:
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines


def _no_traceback(lines: list[str]) -> None:
    """Ends in one `error:` line; before it at most a log line of the driver's, not a trace."""
    assert lines, lines
    assert lines[-1].startswith("error: "), lines
    assert not any("Traceback" in line or "╭" in line for line in lines), lines


@pytest.mark.parametrize(
    "args",
    [
        ["countries", "create", "", ""],
        ["countries", "create", "LKX", "Sri Lanka"],
        ["agencies", "create", "", "--name", "x", "--country", "LK", "--type", "mrcc"],
        ["agencies", "create", "LK-CG", "--name", "", "--country", "LK", "--type", "mrcc"],
        ["clients", "create", "LK-CG", "--name", "", "--role", "viewer"],
        ["clients", "create", "LK-CG", "--name", "n" * 5000, "--role", "viewer"],
    ],
)
def test_registry_arguments_the_rules_refuse_are_one_line(args: list[str], tmp_path: Path) -> None:
    """They were a rich traceback of pydantic's ValidationError (with the value repeated)."""
    url = f"sqlite:///{tmp_path}/rilon.db"
    upgrade(url)
    code, lines = _rilon(child_env(url, tmp_path), tmp_path, *args)
    assert code == 2
    assert all(line.startswith("error: ") for line in lines), lines  # one a refused value


def test_a_code_that_is_not_ascii_creates_nothing(cli_env: CliRunner, database_url: str) -> None:
    """`str.upper` turned 'ſe' into 'SE' and 'lk-ß' into 'LK-SS': a code nobody typed."""
    assert cli_env.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = cli_env.invoke(app, ["countries", "create", "ſe", "Sweden"])
    assert result.exit_code == 2, result.output
    assert "not ASCII" in result.output
    db = Database(database_url)
    codes = db.run_read(lambda session: list(session.exec(select(Country.code)).all()))
    db.close()
    assert "SE" not in codes


@pytest.mark.parametrize("since", ["garbage", "2026-13-01T00:00:00Z", "2026-12-01T00:00:00+99:00"])
def test_audit_export_refuses_a_since_that_is_no_time(cli_env: CliRunner, since: str) -> None:
    """It raised ValueError out of `datetime.fromisoformat`: a traceback, exit 1."""
    result = cli_env.invoke(app, ["audit", "export", "--since", since])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "--since" in result.output


def test_audit_verify_does_not_call_a_mistyped_anchor_tampering(cli_env: CliRunner) -> None:
    """An anchor whose hash is not hex cannot be what `audit head` printed: it is a typo, and
    was answered `BROKEN at seq N`, the words that mean the trail was tampered with."""
    assert cli_env.invoke(app, ["demo"]).exit_code == 0
    result = cli_env.invoke(app, ["audit", "verify", "--anchor", "1:" + "z" * 64])
    assert result.exit_code == 2, result.output
    assert "BROKEN" not in result.output
    head = cli_env.invoke(app, ["audit", "head"]).output.strip()
    assert cli_env.invoke(app, ["audit", "verify", "--anchor", head.upper()]).exit_code == 0


@pytest.fixture
def nothing_started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stand-ins for what `serve` and `worker` would start: they record that they were."""
    started: list[str] = []

    def serving(*_args: Any, **_kwargs: Any) -> None:
        started.append("uvicorn")

    async def working(*_args: Any) -> None:
        started.append("worker")

    monkeypatch.setattr(uvicorn, "run", serving)
    monkeypatch.setattr(cli.main, "_work", working)
    return started


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "-1"],
        ["worker", "--metrics-port", "70000"],
    ],
)
def test_a_port_out_of_range_starts_nothing(
    cli_env: CliRunner, nothing_started: list[str], args: list[str]
) -> None:
    """`serve --port 99999` served on port 34463 (99999 mod 65536) while logging 99999."""
    result = cli_env.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert nothing_started == []


def test_a_missing_dev_key_directory_stops_serve_in_one_line(
    cli_env: CliRunner, nothing_started: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It started, and each worker died on the first key it read with FileNotFoundError."""
    monkeypatch.setenv("RILON_DEV_KEY_DIR", str(tmp_path / "no-such-dir"))
    get_settings.cache_clear()
    for args in (["serve"], ["worker"]):
        result = cli_env.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "RILON_DEV_KEY_DIR" in result.output
    assert nothing_started == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RILON_JWT_KEYS", "not json"),
        ("RILON_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8"),  # JSON wanted: ["10.0.0.0/8"]
        ("RILON_WEBHOOK_ALLOWED_NETWORKS", '["10.0.0.0/33"]'),
        ("RILON_DATABASE_URL", "nonsense"),
        ("RILON_DATABASE_URL", "mysql://rilon@127.0.0.1/rilon"),
        ("RILON_DELIVERY_LEASE_SECONDS", "10"),  # shorter than the 15 s webhook timeout
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """Non-JSON was pydantic-settings' SettingsError, a bad URL SQLAlchemy's ArgumentError or
    a missing driver module, each a traceback; a bad network did not name its variable; a
    lease shorter than an attempt was accepted (and its deliveries sent twice)."""
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    result = cli_env.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    _one_error_line(lines)
    assert name in lines[0]
    assert value not in lines[0] or name != "RILON_DATABASE_URL"  # a URL may hold a password


@pytest.mark.parametrize("verb", [["db", "upgrade"], ["audit", "head"], ["audit", "verify"]])
def test_a_database_that_does_not_answer_is_one_line(verb: list[str], tmp_path: Path) -> None:
    """Each was a traceback (OperationalError, DatabaseUnavailable) ending in the reason."""
    for url in (
        f"postgresql://nobody@127.0.0.1:{free_port()}/rilon",
        f"sqlite:///{tmp_path}/no-such-dir/rilon.db",
    ):
        code, lines = _rilon(child_env(url, tmp_path), tmp_path, *verb)
        assert code == 1
        _no_traceback(lines)
