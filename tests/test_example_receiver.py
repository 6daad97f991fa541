"""examples/receiver/ run as an integrator runs it, against a real `rilon serve`.

The receiver is a child process configured as its README says (WEBHOOK_SECRET, --port,
--state); what it prints on stdout is what the test reads. It must print each verified event
once, answer a redelivery of the same webhook-id without printing it (also after a restart),
and refuse forged or stale deliveries before looking at them.
"""

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.newcomer import PYTHON, RECEIVER, Newcomer, newcomer
from tests.processes import RILON, free_port

HEADLINE = "Wooden boat with about 90 persons sighted 12 nm west of Langkawi"
TIMEOUT = 20.0


async def until(ready: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while not (result := ready()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {TIMEOUT} s waiting for {what}")
        await asyncio.sleep(0.05)
    return result


@dataclass
class Kit:
    """examples/receiver/receiver.py as a child process: stdout to events.jsonl (as a pipe
    into another program would take it), stderr to receiver.log."""

    workdir: Path
    secret: str
    port: int
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rilon"

    def events(self) -> list[dict[str, Any]]:
        text = (self.workdir / "events.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    def log(self) -> str:
        return (self.workdir / "receiver.log").read_text(encoding="utf-8", errors="replace")

    async def start(self) -> None:
        self.starts += 1
        argv = [PYTHON, str(RECEIVER), "--port", str(self.port), "--state", "seen.db"]
        env = {**os.environ, "WEBHOOK_SECRET": self.secret}
        with (
            (self.workdir / "events.jsonl").open("ab") as out,
            (self.workdir / "receiver.log").open("ab") as err,
        ):
            self.popen = subprocess.Popen(
                argv, cwd=self.workdir, env=env, stdout=out, stderr=err, start_new_session=True
            )
        popen = self.popen

        def listening() -> bool:
            assert popen.poll() is None, f"the receiver exited:\n{self.log()}"
            return self.log().count("listening on") == self.starts

        await until(listening, "the receiver to listen")

    def stop(self) -> None:
        """SIGTERM, as an init system stops it."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
        if self.popen is not None:
            self.popen.wait(timeout=10)
        self.popen = None


async def attempts(rig: Newcomer, subscription: str) -> tuple[str, list[int | None]]:
    """The one delivery of the subscription so far: its id and each attempt's status."""
    url = f"/v1/subscriptions/{subscription}/deliveries"
    answer = await rig.http.get(url, headers=await rig.headers("mmea-admin"))
    assert answer.status_code == 200, answer.text
    rows = [row for row in answer.json() if row["event_type"] == "alert.created"]
    if not rows:
        return "", []
    return rows[0]["id"], [attempt["status_code"] for attempt in rows[0]["attempts"]]


async def settled(rig: Newcomer, subscription: str, wanted: list[int | None]) -> str:
    deadline = time.monotonic() + TIMEOUT
    while (found := await attempts(rig, subscription))[1] != wanted:
        if time.monotonic() > deadline:
            pytest.fail(f"delivery attempts are {found[1]}, not {wanted}")
        await asyncio.sleep(0.1)
    return found[0]


async def test_the_example_receiver_prints_each_verified_event_once(tmp_path: Path) -> None:
    async with newcomer(tmp_path) as rig:
        kit = Kit(tmp_path, "", free_port())
        body = {"url": kit.url, "event_types": ["*"], "description": "MMEA duty system"}
        subscription = await rig.created("/v1/subscriptions", body, as_="mmea-admin")
        kit.secret = subscription["secret"]
        try:
            await kit.start()
            alert = await rig.post_alert(HEADLINE)
            [line] = await until(kit.events, "the receiver to print the alert")
            assert line["type"] == "alert.created"
            assert line["record_id"] == alert["id"]
            assert line["headline"] == HEADLINE
            assert line["sender_agency"] == "TH-MECC"
            # the record as the sender's answer showed it, but for what an answer computes
            # when it is read (the position's age): events carry the times themselves
            shown = {key: value for key, value in alert.items() if key != "position_age_seconds"}
            assert line["data"] == shown
            feed = await rig.http.get("/v1/feed", headers=await rig.headers("mmea-watch"))
            [event] = [e for e in feed.json()["events"] if e["type"] == "alert.created"]
            assert line["webhook_id"] == event["id"]  # webhook-id is the event's id
            delivery = await settled(rig, subscription["id"], [204])

            # Resent with the same webhook-id after a restart: answered, not printed again.
            kit.stop()
            await kit.start()
            redo = await rig.http.post(
                f"/v1/deliveries/{delivery}/redeliver", headers=await rig.headers("mmea-admin")
            )
            assert redo.status_code == 200, redo.text
            await settled(rig, subscription["id"], [204, 200])
            assert kit.events() == [line]

            await refuses_forgeries(kit, event)

            ack = await rig.http.post(
                f"/v1/alerts/{alert['id']}/acks", json={}, headers=await rig.headers("mmea-watch")
            )
            assert ack.status_code == 201, ack.text
            lines = await until(lambda: kit.events()[1:], "the acknowledgement event")
            assert [(e["type"], e["record_id"]) for e in lines] == [
                ("alert.acknowledged", alert["id"])
            ]
        finally:
            kit.stop()


async def refuses_forgeries(kit: Kit, event: dict[str, Any]) -> None:
    """A wrong secret, a genuine but old (replayed) signature, a mangled header: each 401,
    nothing printed."""
    body = json.dumps({**event, "data": {"headline": "forged"}})
    now = datetime.now(UTC)
    wrong = Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
    genuine = Webhook(kit.secret)
    cases = [
        ("forged-1", now, wrong.sign("forged-1", now, body)),
        (
            "forged-2",
            now - timedelta(minutes=6),
            genuine.sign("forged-2", now - timedelta(minutes=6), body),
        ),
        ("forged-3", now, "v1-without-a-comma"),
    ]
    async with httpx.AsyncClient(timeout=5) as http:
        for webhook_id, moment, signature in cases:
            headers = {
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(moment.timestamp())),
                "webhook-signature": signature,
                "content-type": "application/json",
            }
            answer = await http.post(kit.url, content=body, headers=headers)
            assert answer.status_code == 401, webhook_id
    assert all(e["headline"] != "forged" for e in kit.events())
    assert kit.log().count("refused forged-") == len(cases)


async def test_the_example_receiver_obeys_redactions_and_purges(tmp_path: Path) -> None:
    """What the receiver keeps loses the redacted text, then the whole record when the
    sender's retention period ends; each notice is a line for the system downstream."""
    marker = "zqxreceivermarker5150"
    async with newcomer(tmp_path) as rig:
        kit = Kit(tmp_path, "", free_port())
        body = {"url": kit.url, "event_types": ["alert.created"]}  # notices come all the same
        subscription = await rig.created("/v1/subscriptions", body, as_="mmea-admin")
        kit.secret = subscription["secret"]
        try:
            await kit.start()
            alert = await rig.post_alert(f"Boat of {marker} seen leaving")
            await until(kit.events, "the receiver to print the alert")
            state = tmp_path / "seen.db"
            assert marker.encode() in state.read_bytes() + _wal(state)
            url = f"/v1/alerts/{alert['id']}/versions/1/redact"
            redaction = {"fields": ["headline"], "reason": "name of a fisherman"}
            answer = await rig.http.post(
                url, json=redaction, headers=await rig.headers("mecc-watch")
            )
            assert answer.status_code == 200, answer.text
            lines = await until(lambda: kit.events()[1:], "the redaction notice")
            assert [line["type"] for line in lines] == ["alert.redacted"]
            assert lines[0]["headline"] == "[redacted]"
            # The line goes out before the receiver commits (at least once: its README), so
            # the files lose the text just after it: within TIMEOUT, not at the same instant.
            await until(
                lambda: marker.encode() not in state.read_bytes() + _wal(state),
                "the redacted text to leave the receiver's files",
            )

            purge = await asyncio.to_thread(
                subprocess.run,
                [
                    RILON,
                    "retention",
                    "purge",
                    "--as-of",
                    "2100-01-01T00:00:00Z",
                ],
                cwd=tmp_path,
                env=rig.api.env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert purge.returncode == 0, purge.stderr
            lines = await until(lambda: kit.events()[2:], "the purge notice")
            assert [line["type"] for line in lines] == ["alert.purged"]
            assert lines[0]["data"]["purged_at"]
            await until(
                lambda: alert["id"].encode() not in _copies(state), "the copy to be deleted"
            )
        finally:
            kit.stop()


def _wal(state: Path) -> bytes:
    wal = state.with_name(state.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def _copies(state: Path) -> bytes:
    with sqlite3.connect(state) as db:
        return b"".join(row[0].encode() for row in db.execute("SELECT id FROM copies"))
