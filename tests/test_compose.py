"""compose.yaml, checked without Docker: it parses, every setting it names exists, its command
lines run as `rilon` commands, and what it interpolates makes settings that `prod` accepts."""

import re
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from typer.testing import CliRunner

import cli.main
from core.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
# ${NAME}, ${NAME:-default}, ${NAME:?error}: the forms compose.yaml uses.
INTERPOLATION = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")
RILON_NAME = re.compile(r"\bRILON_[A-Z0-9_]+\b")


def services() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def example_names() -> dict[str, str]:
    lines = (line for line in ENV_EXAMPLE.read_text().splitlines() if line and line[0] != "#")
    return dict(line.split("=", 1) for line in lines)


def run_rilon(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run `rilon …` as the container would, up to where it would touch a database or a port."""
    assert argv[0] == "rilon"
    calls: dict[str, Any] = {}

    async def work(settings: Settings, metrics_host: str, metrics_port: int) -> None:
        calls["worker"] = settings

    monkeypatch.delenv("RILON_DISPATCHER", raising=False)  # `--no-dispatcher` sets it
    monkeypatch.setattr(cli.main, "upgrade", lambda url: calls.setdefault("upgrade", url))
    monkeypatch.setattr(uvicorn, "run", lambda *_, **kw: calls.setdefault("serve", kw))
    monkeypatch.setattr(cli.main, "_work", work)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.main.app, argv[1:])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return calls


def test_compose_parses_and_has_the_production_shape() -> None:
    found = services()
    assert {"db", "migrate", "api-1", "api-2", "worker", "proxy"} <= set(found)
    assert found["db"]["image"].startswith("postgres:16")
    assert found["db"]["healthcheck"]["test"]
    assert "pgdata" in yaml.safe_load(COMPOSE.read_text())["volumes"]
    assert found["migrate"]["command"] == ["rilon", "db", "upgrade"]
    assert found["migrate"]["restart"] == "no"
    assert found["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert found["worker"]["command"] == ["rilon", "worker"]
    assert found["worker"]["deploy"]["replicas"] == 2
    for name in ("api-1", "api-2", "worker"):
        waits = found[name]["depends_on"]["migrate"]["condition"]
        assert waits == "service_completed_successfully"
    for name in ("api-1", "api-2"):
        assert "--no-dispatcher" in found[name]["command"]  # the workers send webhooks
        assert f"{name}:8000" in CADDYFILE.read_text()  # and the proxy reaches both
    assert "ports" not in found["api-1"]  # only the proxy is published
    volume = found["proxy"]["volumes"][0].split(":")[0]
    assert (ROOT / volume).resolve() == CADDYFILE


def test_every_setting_named_exists() -> None:
    fields = {f"RILON_{name.upper()}" for name in Settings.model_fields}
    named = set(RILON_NAME.findall(COMPOSE.read_text() + ENV_EXAMPLE.read_text()))
    assert named, "compose names no RILON_* setting"
    assert named <= fields, f"not settings: {sorted(named - fields)}"


def test_env_example_lists_every_variable_compose_reads() -> None:
    read = {match[0] for match in INTERPOLATION.findall(COMPOSE.read_text())}
    assert read == set(example_names())


def test_command_lines_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, service in services().items():
        if isinstance(service.get("command"), list) and service["command"][0] == "rilon":
            argv = [INTERPOLATION.sub("10.0.0.0/24", part) for part in service["command"]]
            calls = run_rilon(argv, monkeypatch)
            if name.startswith("api-"):
                assert calls["serve"]["forwarded_allow_ips"] == "10.0.0.0/24"
                assert calls["serve"]["proxy_headers"] is True
                assert Settings().dispatcher is False  # what every uvicorn worker reads
            assert set(calls) == {"migrate": {"upgrade"}, "worker": {"worker"}}.get(
                name, {"upgrade", "serve"}
            )


def filled(value: str, given: dict[str, str]) -> str:
    """Interpolate as compose does; a missing required variable fails the test."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if given.get(name):
            return given[name]
        assert kind == "-", f"{name} is required ({rest})"
        return rest

    return INTERPOLATION.sub(one, value)


@pytest.mark.parametrize("name", ["migrate", "api-1", "worker"])
def test_the_settings_compose_makes_are_accepted_in_prod(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = {**example_names(), "POSTGRES_PASSWORD": "pw_0123"}
    given["RILON_JWT_KEYS"] = '{"2026-12": "%s"}' % ("k" * 48)
    given["RILON_SECRETS_KEY"] = given["RILON_BOOTSTRAP_ADMIN_SECRET"] = "s" * 40
    for key in list(Settings.model_fields):
        monkeypatch.delenv(f"RILON_{key.upper()}", raising=False)
    for key, value in services()[name]["environment"].items():
        monkeypatch.setenv(key, filled(str(value), given))
    settings = Settings()
    assert settings.env == "prod"
    assert settings.database_url == "postgresql://rilon:pw_0123@db:5432/rilon"
    assert settings.signing_keys()[0] == "2026-12"
