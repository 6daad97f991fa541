"""Log lines: JSON with the request id, an access line per request, never a secret."""

import asyncio
import base64
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.logs import JsonFormatter, TextFormatter
from models.enums import Role
from tests.processes import child_env, supervised
from tests.support import Network


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]

    def service(self) -> str:
        """What the service logged (the test's own httpx client logs its URLs too)."""
        return "\n".join(
            json.dumps(line) for line in self.lines() if not line["logger"].startswith("httpx")
        )

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "rilon.access"]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Every logger, at every level, formatted as `rilon serve` formats JSON lines."""
    capture = Captured()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield capture
    root.removeHandler(handler)
    root.setLevel(level)


async def test_a_request_logs_one_json_access_line_with_its_request_id(
    client: httpx.AsyncClient, captured: Captured
) -> None:
    answer = await client.get("/v1/auth/me?cursor=abc", headers={"X-Request-ID": "trace-4711"})
    assert answer.status_code == 401
    [line] = [line for line in captured.access() if line.get("request_id") == "trace-4711"]
    assert line["level"] == "INFO"
    assert line["route"] == "/v1/auth/me"
    assert line["method"] == "GET"
    assert line["status"] == 401
    assert line["duration_ms"] >= 0
    assert line["client_id"] is None
    assert line["timestamp"].endswith("+00:00")
    assert "cursor" not in captured.service()  # query strings are never logged
    probe = await client.get("/healthz", headers={"X-Request-ID": "probe-1"})
    assert probe.status_code == 200
    [quiet] = [line for line in captured.access() if line.get("request_id") == "probe-1"]
    assert quiet["level"] == "DEBUG"  # probes are polled: hidden at the default INFO


async def test_token_requests_log_neither_secret_nor_token(
    network: Network, captured: Captured
) -> None:
    http = network.http
    credential = network.role(Role.DUTY_OFFICER)
    form = {
        "grant_type": "client_credentials",
        "client_id": credential.client_id,
        "client_secret": credential.secret,
    }
    issued = await http.post("/v1/auth/token", data=form, headers={"X-Request-ID": "tok-1"})
    assert issued.status_code == 200
    token = issued.json()["access_token"]
    basic = base64.b64encode(f"{credential.client_id}:{credential.secret}".encode()).decode()
    again = await http.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}", "X-Request-ID": "tok-2"},
    )
    assert again.status_code == 200
    wrong = {**form, "client_secret": credential.secret[:-4] + "xxxx"}
    refused = await http.post("/v1/auth/token", data=wrong, headers={"X-Request-ID": "tok-3"})
    assert refused.status_code == 401
    me = await http.get(
        "/v1/auth/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "tok-4"}
    )
    assert me.status_code == 200

    lines = {line["request_id"]: line for line in captured.access()}
    assert lines["tok-1"]["client_id"] == credential.client_id  # verified: named
    assert lines["tok-2"]["client_id"] == credential.client_id
    assert lines["tok-3"]["client_id"] is None  # refused: a claimed id is not an actor
    assert lines["tok-4"]["client_id"] == credential.client_id
    for secret in (credential.secret, wrong["client_secret"], token, again.json()["access_token"]):
        assert secret not in captured.text
    assert basic not in captured.text
    assert token.split(".")[1] not in captured.text  # not even the claims part


def test_text_lines_carry_the_same_fields() -> None:
    record = logging.LogRecord("rilon.access", logging.INFO, __file__, 1, "GET / 200", None, None)
    record.request_id = "r-1"
    record.status = 200
    text = TextFormatter().format(record)
    assert "INFO" in text
    assert "rilon.access: GET / 200" in text
    assert "request_id=r-1" in text
    assert "status=200" in text
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["request_id"] == "r-1"
    assert parsed["status"] == 200


def test_no_line_carries_colour_or_control_characters() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, "Started \x1b[31m%d\r\x9b", (7,), None
    )
    record.color_message = "Started server process [\x1b[36m%d\x1b[0m]"  # as uvicorn adds it
    text = TextFormatter().format(record)
    assert "color_message" not in text
    assert text.endswith("Started \\x1b[31m7\\x0d\\x9b")
    line = JsonFormatter().format(record)
    assert "color_message" not in line
    assert not any("\x7f" <= char <= "\x9f" for char in line)
    assert json.loads(line)["message"] == "Started \x1b[31m7\r\x9b"


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_serve_writes_plain_lines(tmp_path: Path, fmt: str) -> None:
    """A real `rilon serve`, from start to a clean stop: uvicorn's coloured copies of its
    messages (`color_message`) never reach the log, nor does any ANSI escape."""
    env = child_env(f"sqlite:///{tmp_path / 'rilon.db'}", tmp_path, RILON_LOG_FORMAT=fmt)
    with supervised(tmp_path, env) as processes:
        api = processes.add("api", "serve", "--no-dispatcher")
        await api.start()
        async with httpx.AsyncClient() as http:
            assert (await http.get(api.url("/v1/nothing"))).status_code == 404
        assert api.popen is not None
        api.popen.terminate()
        await asyncio.to_thread(api.popen.wait, 20)
    output = api.log().read_text()
    for expected in ("Started server process", "Uvicorn running on", "Finished server process"):
        assert expected in output
    assert "color_message" not in output
    assert "\x1b[" not in output
    if fmt == "json":
        assert _lines(api.log())


def _requests(metrics: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "rilon_http_requests_total" and sample.labels["route"] == route
    )


async def _both_started(log: Path) -> None:
    for _ in range(300):
        if log.read_text().count("Application startup complete") >= 2:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the second worker did not start:\n" + log.read_text()[-2000:])


async def test_serve_workers_log_json_and_share_metrics(tmp_path: Path) -> None:
    """`rilon serve --workers 2`: uvicorn's lines and ours are JSON in every worker, and with
    PROMETHEUS_MULTIPROC_DIR any worker's /metrics counts the requests of both."""
    env = child_env(
        f"sqlite:///{tmp_path / 'rilon.db'}",
        tmp_path,
        RILON_LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    with supervised(tmp_path, env) as processes:
        api = processes.add("api", "serve", "--workers", "2", "--no-dispatcher")
        await api.start()
        await _both_started(api.log())
        async with httpx.AsyncClient(
            limits=httpx.Limits(max_keepalive_connections=0)  # a new connection each time
        ) as http:

            async def get(n: int) -> None:
                headers = {"X-Request-ID": f"count-{n}"}
                assert (await http.get(api.url("/v1/nothing"), headers=headers)).status_code

            # The kernel hands connections to whichever worker accepts first: on an idle
            # machine one may take them all for a while, so send until both have served.
            sent = 0
            while sent < 600 and len(_served_by(api.log())) < 2:
                await asyncio.gather(*(get(sent + n) for n in range(10)))
                sent += 10
            for _ in range(6):
                scraped = (await http.get(api.url("/metrics"))).text
                assert _requests(scraped, "(unmatched)") == sent
        api.kill()
    lines = _lines(api.log())
    started = [line for line in lines if "Application startup complete" in line["message"]]
    assert len(started) == 2  # one per worker, routed through our JSON formatter
    assert all(line["logger"] == "uvicorn.error" for line in started)
    access = [line for line in lines if line["logger"] == "rilon.access"]
    assert {f"count-{n}" for n in range(sent)} <= {line["request_id"] for line in access}
    assert len(_served_by(api.log())) == 2  # so each scrape above summed both workers' counts


def _lines(log: Path) -> list[dict[str, Any]]:
    """Every whole line so far (a worker may be halfway through writing the last)."""
    return [json.loads(line) for line in log.read_text().split("\n")[:-1] if line.strip()]


def _served_by(log: Path) -> set[int]:
    return {
        line["pid"]
        for line in _lines(log)
        if line["logger"] == "rilon.access" and line.get("route") == "(unmatched)"
    }
