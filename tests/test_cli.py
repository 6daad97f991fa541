"""The `rilon` command: migrations, registry and the demo network."""

import re

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings


def test_db_upgrade_twice(cli_env: CliRunner) -> None:
    for _ in range(2):
        result = cli_env.invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "database at head" in result.output


def test_registry_commands(cli_env: CliRunner) -> None:
    assert cli_env.invoke(app, ["countries", "create", "lk", "Sri Lanka"]).exit_code == 0
    result = cli_env.invoke(
        app,
        [
            "agencies",
            "create",
            "LK-CG",
            "--name",
            "Sri Lanka Coast Guard",
            "--country",
            "LK",
            "--type",
            "coast_guard",
        ],
    )
    assert result.exit_code == 0, result.output
    result = cli_env.invoke(
        app, ["clients", "create", "LK-CG", "--name", "ops", "--role", "duty_officer"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"client_secret: rls_\S+", result.output)
    again = cli_env.invoke(app, ["countries", "create", "LK", "Sri Lanka"])
    assert again.exit_code == 1
    assert "already exists" in again.output
    unknown = cli_env.invoke(
        app, ["clients", "create", "NO-SUCH", "--name", "x", "--role", "viewer"]
    )
    assert unknown.exit_code == 1


def test_demo_prints_working_credentials(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "demo-th-mecc-duty" in result.output
    assert "curl -s -u demo-th-mecc-duty:rls_" in result.output
    rerun = cli_env.invoke(app, ["demo"])
    assert rerun.exit_code == 0
    first = re.search(r"demo-th-mecc-duty\s+\S+\s+\S+\s+(rls_\S+)", result.output)
    second = re.search(r"demo-th-mecc-duty\s+\S+\s+\S+\s+(rls_\S+)", rerun.output)
    assert first
    assert second
    assert first.group(1) != second.group(1)


def test_demo_refuses_prod(cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RILON_ENV", "prod")
    monkeypatch.setenv("RILON_JWT_SECRET", "p" * 40)
    monkeypatch.setenv("RILON_SECRETS_KEY", "k" * 40)
    get_settings.cache_clear()
    result = cli_env.invoke(app, ["demo"])
    assert result.exit_code == 1
