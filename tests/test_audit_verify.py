"""Verifying a long chain: it walks on a connection and in a thread of its own, one walk at
a time per caller, and never stalls anyone else's reads or writes."""

import asyncio
import json
from datetime import timedelta
from typing import Any

from sqlmodel import func, select
from typer.testing import CliRunner

from cli.main import app as cli
from core.clock import utcnow
from core.db import Database
from models.audit import GENESIS_HASH, AuditEvent
from models.enums import Role
from models.tables import AUDIT
from services.audit import trail
from tests.support import Network, alert_body

ROWS = 50_000
START = utcnow().replace(microsecond=0) - timedelta(days=30)
CHUNK = 5_000
AUDITORS = ("TH-MECC", "MY-MMEA", "BD-CG", "ID-BASARNAS")


def build_chain(db: Database, rows: int) -> None:
    """`rows` valid chained audit rows, seq n at START + n seconds, inserted in bulk (the
    writer would take minutes)."""
    start = START
    prev_hash = GENESIS_HASH
    with db.write_engine.begin() as connection:
        for first in range(1, rows + 1, CHUNK):
            batch: list[dict[str, Any]] = []
            for seq in range(first, min(first + CHUNK, rows + 1)):
                row: dict[str, Any] = {
                    "seq": seq,
                    "id": f"bulk-{seq}",
                    "at": start + timedelta(seconds=seq),
                    "actor_client": "bulk-client",
                    "actor_agency": "TH-MECC",
                    "actor_country": "TH",
                    "action": "GET /v1/alerts",
                    "object_type": "alerts",
                    "object_id": None,
                    "object_countries": ",TH,",
                    "outcome": "success",
                    "status_code": 200,
                    "ip": "127.0.0.1",
                    "request_id": f"r{seq}",
                    "detail": json.dumps({"ids": [f"id-{seq}"]}, separators=(",", ":")),
                    "prev_hash": prev_hash,
                }
                row["hash"] = prev_hash = trail.chain_hash(prev_hash, row)
                batch.append(row)
            connection.execute(AUDIT.insert(), batch)


def _count(db: Database) -> int:
    return db.run_read(lambda s: s.exec(select(func.count()).select_from(AuditEvent)).one())


async def test_verifies_of_a_long_chain_stall_no_read_or_write(network: Network) -> None:
    """Four auditors verify a 50,000-row chain at once; meanwhile a list and a write are
    answered, before any of the verifications is, and the write appended behind the walks
    breaks none of them."""
    build_chain(network.db, ROWS)
    auditors = [await network.headers(Role.AUDITOR, agency) for agency in AUDITORS]
    viewer = await network.headers(Role.VIEWER, "MY-MMEA")
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    http = network.http
    verifies = [
        asyncio.create_task(http.get("/v1/audit-events/verify", headers=auditor))
        for auditor in auditors
    ]
    await asyncio.sleep(0.3)  # let the walks begin
    listed = await http.get("/v1/alerts", headers=viewer)
    posted = await http.post("/v1/alerts", json=alert_body(), headers=duty)
    still_walking = sum(not task.done() for task in verifies)
    verdicts = [answer.json() for answer in await asyncio.gather(*verifies)]
    assert (listed.status_code, posted.status_code) == (200, 201)
    assert still_walking == len(AUDITORS), "a list or a write waited for a verification"
    for verdict in verdicts:
        assert verdict["ok"] is True, verdict
        assert verdict["first_bad_seq"] is None
        assert verdict["checked"] >= ROWS
    assert network.db.run_read(trail.verify).checked == _count(network.db)


async def test_one_verification_at_a_time_per_caller(network: Network) -> None:
    """A second verification by the same caller while its first walks is a 429 with
    Retry-After and how far the first has got; another caller's is not refused."""
    build_chain(network.db, ROWS)
    auditor = await network.headers(Role.AUDITOR, "TH-MECC")
    other = await network.headers(Role.AUDITOR, "MY-MMEA")
    http = network.http
    first = asyncio.create_task(http.get("/v1/audit-events/verify", headers=auditor))
    await asyncio.sleep(0.3)
    second = await http.get("/v1/audit-events/verify", headers=auditor)
    elsewhere = asyncio.create_task(http.get("/v1/audit-events/verify", headers=other))
    assert second.status_code == 429, second.text
    assert second.headers["content-type"] == "application/problem+json"
    assert int(second.headers["retry-after"]) >= 1
    assert second.json()["checked"] >= 0
    for answer in await asyncio.gather(first, elsewhere):
        assert answer.status_code == 200
        assert answer.json()["ok"] is True
    again = await http.get("/v1/audit-events/verify", headers=auditor)
    assert again.status_code == 200


def test_export_since_walks_from_its_first_event(db: Database, cli_env: CliRunner) -> None:
    """`rilon audit export --since` starts its walk at the first event at or after `since`
    (found by the index on `at`) and writes exactly the events from there on."""
    build_chain(db, 3_000)
    since = (START + timedelta(seconds=2_000)).isoformat().replace("+00:00", "Z")
    exported = cli_env.invoke(cli, ["audit", "export", "--since", since])
    assert exported.exit_code == 0, exported.output
    seqs = [json.loads(line)["seq"] for line in exported.stdout.splitlines()]
    assert seqs == list(range(2_000, 3_001))
    verified = cli_env.invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "3000 events" in verified.output
