"""B1's second baseline: the same durable writes as `POST /v1/alerts`, done the textbook way.

One SQLModel `Session` a request in a plain `def` endpoint (FastAPI's thread pool): the record,
its first version, its outbox event and its audit row (the hash chain extended) added as ORM
objects and committed, SQLite in WAL with `synchronous=FULL`. A lock lets one request at a
time write, as SQLite would anyway (reading the audit head, then writing, in two threads at
once ends in "database is locked"). It leaves out authentication, the registry and standing
checks, idempotency and vessel links: everything left out makes it faster, so the service's
ratio to it is, if anything, understated.
"""

import argparse
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine, event
from sqlmodel import Session, col, create_engine, select

from auth.policy import code_list
from core.migrations import upgrade
from models.alerts import AlertCreate
from models.audit import GENESIS_HASH, AuditEvent
from models.events import Event
from models.records import Record, RecordVersion
from services.audit.trail import chain_hash
from services.records.kinds import ALERTS
from services.records.retention import DEFAULT

SENDER = {"sender_agency": "BD-CG", "sender_country": "BD"}
CLIENT_ID = "demo-bd-cg-duty"


class Created(BaseModel):
    id: str
    version: int


def engine_for(path: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return engine


def _rows(body: AlertCreate, now: datetime) -> tuple[Record, RecordVersion, Event, str]:
    record_id = str(uuid.uuid4())
    payload = body.model_dump(mode="json")
    retain_until = DEFAULT.until(now, body.handling)
    doc = {
        "id": record_id,
        "kind": "alert",
        "version": 1,
        **SENDER,
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "state": "active",
        **payload,
        "cancel_reason": None,
        "retain_until": retain_until.isoformat(),
        "legal_hold": False,
    }
    text = json.dumps(doc, separators=(",", ":"))
    handling = body.handling
    policy: dict[str, Any] = {
        "kind": "alert",
        "status": body.status.value,
        **SENDER,
        "distribution": handling.distribution.value,
        "tlp": handling.tlp.value,
        "recipient_countries": code_list(handling.recipient_countries),
        "recipient_agencies": code_list(handling.recipient_agencies),
    }
    columns = ALERTS.columns(doc)
    record = Record(
        id=record_id,
        version=1,
        state="active",
        ack_required=handling.ack_required,
        case_id=body.case_id,
        created_at=now,
        updated_at=now,
        expires_at=body.expires_at,
        retain_until=retain_until,
        doc=text,
        **policy,
        **columns,
    )
    version = RecordVersion(
        record_id=record_id, version=1, client_id=CLIENT_ID, created_at=now, doc=text, **policy
    )
    outbox = Event(
        id=str(uuid.uuid4()),
        type="alert.created",
        at=now,
        record_id=record_id,
        data=text,
        **policy,
        **{name: columns[name] for name in ("category", "severity_rank", "lat", "lon")},
    )
    return record, version, outbox, record_id


def _audit(session: Session, record_id: str, now: datetime) -> AuditEvent:
    last = session.exec(
        select(AuditEvent.seq, AuditEvent.hash).order_by(col(AuditEvent.seq).desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
    row: dict[str, Any] = {
        "seq": seq + 1,
        "id": str(uuid.uuid4()),
        "at": now,
        "actor_client": CLIENT_ID,
        "actor_agency": SENDER["sender_agency"],
        "actor_country": SENDER["sender_country"],
        "action": "POST /v1/alerts",
        "object_type": "alert",
        "object_id": record_id,
        "object_countries": ",BD,",
        "outcome": "success",
        "status_code": 201,
        "ip": "127.0.0.1",
        "request_id": str(uuid.uuid4()),
        "detail": "{}",
        "prev_hash": prev_hash,
    }
    return AuditEvent(**row, hash=chain_hash(prev_hash, row))


def create_app(database: str) -> FastAPI:
    upgrade(f"sqlite:///{database}")
    engine = engine_for(database)
    write = threading.Lock()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/naive/alerts", status_code=201, response_model=Created)
    def create_alert(body: AlertCreate) -> Created:
        now = datetime.now(UTC)
        record, version, outbox, record_id = _rows(body, now)
        with write, Session(engine) as session:
            session.add(record)
            session.add(version)
            session.add(outbox)
            session.add(_audit(session, record_id, now))
            session.commit()
        return Created(id=record_id, version=1)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve B1's naive SQLModel peer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True, help="SQLite file (migrated at start)")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.database),
        host=args.host,
        port=args.port,
        workers=1,
        proxy_headers=False,
        server_header=False,
        access_log=False,
    )


if __name__ == "__main__":
    main()
