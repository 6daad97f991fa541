"""Reads whose size and work a page bounds, whatever the size of the data behind it: the
cases of a vessel, the retention dry run, and a page of the audit trail. Each test seeds rows
directly, runs the read (a service function, or the command) and checks what its statements
bind or measures their work (tests/statement_work.py)."""

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from auth.policy import POLICY_COLUMNS
from auth.scopes import ROLE_SCOPES
from cli.main import app as cli
from core.clock import iso
from core.db import Database
from delivery import outbox
from delivery import reads as deliveries
from models.enums import Role
from models.tables import (
    AUDIT,
    DELIVERY,
    EVENT,
    RECORD,
    SIGHTING,
    SUBSCRIPTION,
    VERSION,
    VESSEL_LINK,
)
from services.audit import listing
from services.records import cases, purging, tracks
from services.records.reading import decode_cursor
from tests.backlog import event_rows
from tests.statement_work import (
    BIG,
    NOW,
    READER,
    SMALL,
    assert_bounded,
    captured,
    insert,
    record_id,
    record_row,
    statement_cost,
    work_of,
)
from tests.support import seed_registry

VESSEL = "mmsi:999999999"


@pytest.fixture
def registry(db: Database) -> Database:
    seed_registry(db)
    return db


def test_cases_of_a_vessel_bind_a_page_of_values_however_many_records_name_it(
    registry: Database,
) -> None:
    """GET /v1/cases?vessel=: the cases naming the vessel are a subquery of the walk, so no
    statement binds more than a walk's cases (WALK) and the policy's few values. Bound in
    Python, 2,000 records naming it made a statement of 2,522 values; SQLite refuses more
    than its limit of them, so a busy enough vessel failed the request.

    The answer is the one the caller may read: a case counts all its readable records and
    comes first at its newest, and a case whose only record naming the vessel is hidden from
    the caller is not listed."""
    db = registry
    n = 2_000
    named = [record_row(i, case_id=f"CASE-{i}") for i in range(1, n + 1)]
    hidden = record_row(n + 1, case_id="HIDDEN", distribution="agency", tlp="red")
    beside = [record_row(n + 2, case_id="HIDDEN"), record_row(n + 3, case_id="CASE-1")]
    insert(db, RECORD, [*named, hidden, *beside])
    links = [{"key": VESSEL, "record_id": record_id(i)} for i in range(1, n + 2)]
    insert(db, VESSEL_LINK, links)

    with captured(db.engine, "record") as statements:
        page = db.run_read(cases.list_cases, READER, VESSEL, None, "actual", 50, None)
    widest = max(len(parameters) for _statement, parameters in statements)
    assert widest <= cases.WALK + 50, f"a statement bound {widest} values"
    newest = [f"CASE-{i}" for i in range(n, n - 49, -1)]
    assert [item["case_id"] for item in page["items"]] == ["CASE-1", *newest]
    assert page["items"][0]["records"] == 2
    rest = db.run_read(cases.list_cases, READER, VESSEL, None, "actual", 50, page["next_cursor"])
    assert [item["case_id"] for item in rest["items"]][:2] == [f"CASE-{n - 49}", f"CASE-{n - 50}"]
    assert "CASE-1" not in [item["case_id"] for item in rest["items"]]


def test_cases_of_a_vessel_cost_a_page_however_many_records_name_it(registry: Database) -> None:
    """GET /v1/cases?vessel=: the walk asks of each record it reads whether its own case names
    the vessel, so its work is a page's, at 1,000 records naming the vessel as at 10,000
    (reading every case of the vessel first was a whole-table scan and 572 ms on PostgreSQL
    with 50,000 records naming it)."""
    db = registry

    def name_the_vessel(start: int, stop: int) -> None:
        insert(db, RECORD, [record_row(i, case_id=f"CASE-{i}") for i in range(start, stop)])
        insert(
            db,
            VESSEL_LINK,
            [{"key": VESSEL, "record_id": record_id(i)} for i in range(start, stop)],
        )

    def unit(session: Session) -> Any:
        return cases.list_cases(session, READER, VESSEL, None, "actual", 50, None)

    name_the_vessel(1, SMALL + 1)
    small = work_of(db, unit, "vessel_link")
    name_the_vessel(SMALL + 1, BIG + 1)
    big = work_of(db, unit, "vessel_link")
    assert [item["case_id"] for item in db.run_read(unit)["items"]][:1] == [f"CASE-{BIG}"]
    assert_bounded(small, big, "cases of a vessel")


def test_the_cases_walk_costs_a_page_however_many_records_are_in_cases(
    registry: Database,
) -> None:
    """GET /v1/cases walks the records in a case newest first, of every kind at once: on
    SQLite, with no statistics, it read every such record and sorted them, until
    `ix_record_in_case` gave the walk an order of its own."""
    db = registry

    def unit(session: Session) -> Any:
        return cases.list_cases(session, READER, None, None, "actual", 50, None)

    insert(db, RECORD, [record_row(i, case_id=f"CASE-{i}") for i in range(1, SMALL + 1)])
    small = work_of(db, unit, "ORDER BY record.seq DESC")
    insert(db, RECORD, [record_row(i, case_id=f"CASE-{i}") for i in range(SMALL + 1, BIG + 1)])
    big = work_of(db, unit, "ORDER BY record.seq DESC")
    assert [item["case_id"] for item in db.run_read(unit)["items"]][:1] == [f"CASE-{BIG}"]
    assert_bounded(small, big, "the cases walk")


def test_a_purge_round_reads_only_what_it_may_purge(registry: Database) -> None:
    """Records on legal hold keep their retention date: the purge's index once held them, and
    each round (every minute, inside the dispatcher's writer unit) filtered every expired held
    record away to find its chunk (59,990 of them: 20-24 ms a round on PostgreSQL)."""
    db = registry
    expired = NOW - timedelta(days=1)

    def held(start: int, n: int) -> list[dict[str, Any]]:
        return [
            record_row(i, retain_until=expired - timedelta(seconds=i), legal_hold=True)
            for i in range(start, start + n)
        ]

    def unit(session: Session) -> Any:
        return session.exec(purging._due_query(NOW).limit(purging.CHUNK)).all()

    insert(db, RECORD, [*held(1, SMALL), record_row(BIG + 1, retain_until=NOW)])
    small = work_of(db, unit, "FROM record")
    insert(db, RECORD, held(SMALL + 1, BIG - SMALL))
    big = work_of(db, unit, "FROM record")
    assert [row.seq for row in db.run_read(unit)] == [BIG + 1]
    assert_bounded(small, big, "purge round")


def test_dry_run_pages_cost_the_same_at_the_end_as_at_the_start(
    registry: Database, cli_env: CliRunner
) -> None:
    """`rilon retention purge --dry-run` pages by keyset on the purge's order, (retain_until,
    seq), reading only the columns it prints: its last page costs what its first does (by
    OFFSET, with 60,000 due on PostgreSQL, 1.5 ms at offset 0 and 80 ms at 59,500), and it
    lists each due record once, in that order, ties on retain_until across a page's edge
    included."""
    db = registry
    expired = NOW - timedelta(days=1)
    # pairs share a retain_until, one pair across each edge of the 500-record pages
    due = [
        record_row(i, retain_until=expired - timedelta(seconds=(BIG - i + 1) // 2))
        for i in range(1, BIG + 1)
    ]
    insert(
        db,
        RECORD,
        [*due, record_row(BIG + 1), record_row(BIG + 2, retain_until=expired, legal_hold=True)],
    )

    with captured(Engine, "FROM record", "ORDER BY") as pages:
        listing = cli_env.invoke(cli, ["retention", "purge", "--dry-run", "--as-of", iso(NOW)])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == [record_id(i) for i in range(1, BIG + 1)]
    assert lines[1].split()[1:] == ["alert", "BD-CG", iso(due[0]["retain_until"])]
    assert lines[-1] == f"{BIG} records would be purged as of {iso(NOW)} (dry run)"
    first, *rest = (statement_cost(db, statement, parameters) for statement, parameters in pages)
    assert max(rest) <= 2 * first + 50, f"first page: work {first}; the others up to {max(rest)}"
    assert not [statement for statement, _ in pages if "record.doc" in statement]


def _audit_rows(start: int, stop: int, country: str = "BD") -> list[dict[str, Any]]:
    """Audit rows `start` to `stop - 1` (their seqs): reads by an agency of `country`."""
    return [
        {
            "seq": seq,
            "id": f"audit-{seq}",
            "at": NOW + timedelta(seconds=seq),
            "actor_client": "reader",
            "actor_agency": f"{country}-CG",
            "actor_country": country,
            "action": "GET /v1/alerts",
            "object_id": None,
            "object_countries": f",{country},",
            "outcome": "success",
            "status_code": 200,
            "detail": "{}",
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
        }
        for seq in range(start, stop)
    ]


@pytest.mark.parametrize("outcome", [None, "denied"])
def test_an_audit_page_looks_at_a_bounded_stretch_of_the_trail(
    registry: Database, monkeypatch: pytest.MonkeyPatch, outcome: str | None
) -> None:
    """GET /v1/audit-events: the trail gains a row a request. An auditor of a country whose
    agencies act rarely, or a filter on `outcome` (no index serves it), walked the whole
    trail for each page: 21-37 ms at 200,000 rows, and growing with every request anyone
    made. A page now looks at WALK rows at most (here 500) and its cursor moves on."""
    db = registry
    monkeypatch.setattr(listing, "WALK", 500)
    auditor = replace(READER, roles=frozenset([Role.AUDITOR]), scopes=ROLE_SCOPES[Role.AUDITOR])
    wanted = listing.AuditFilter(outcome=outcome, limit=50)

    def unit(session: Session) -> Any:
        return listing.list_events(session, auditor, wanted)

    insert(db, AUDIT, _audit_rows(1, SMALL + 1))
    small = work_of(db, unit, "FROM audit_event", "ORDER BY")
    insert(db, AUDIT, _audit_rows(SMALL + 1, BIG + 1))
    big = work_of(db, unit, "FROM audit_event", "ORDER BY")
    assert_bounded(small, big, "an audit page")
    shown, cursor, seqs = db.run_read(unit)
    assert (shown, seqs) == ([], [])
    assert cursor is not None
    assert decode_cursor(cursor) == 500


def test_who_read_one_record_is_one_page_however_long_the_trail(
    registry: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`object_id` is exempt from the walk's bound (here 500 rows): its index finds one
    record's rows wherever they are in the trail, so "who read this record" is one page."""
    db = registry
    monkeypatch.setattr(listing, "WALK", 500)
    auditor = replace(READER, roles=frozenset([Role.AUDITOR]), scopes=ROLE_SCOPES[Role.AUDITOR])
    wanted = listing.AuditFilter(object_id="the-record", limit=50)

    def of_the_record(seq: int) -> dict[str, Any]:
        [row] = _audit_rows(seq, seq + 1, country="MY")
        return {**row, "object_id": "the-record"}

    def unit(session: Session) -> Any:
        return listing.list_events(session, auditor, wanted)

    insert(db, AUDIT, [of_the_record(1), *_audit_rows(2, SMALL), of_the_record(SMALL)])
    small = work_of(db, unit, "FROM audit_event", "ORDER BY")
    insert(db, AUDIT, [*_audit_rows(SMALL + 1, BIG), of_the_record(BIG)])
    big = work_of(db, unit, "FROM audit_event", "ORDER BY")
    assert_bounded(small, big, "one record's audit rows")
    _shown, cursor, seqs = db.run_read(unit)
    assert (seqs, cursor) == ([1, SMALL, BIG], None)


def _sightings(record: int, start: int, stop: int) -> list[dict[str, Any]]:
    """Sightings `start` to `stop - 1` (their seqs) of record `record`, one a minute."""
    return [
        {
            "seq": seq,
            "id": f"sighting-{seq}",
            "record_id": record_id(record),
            "agency": "BD-CG",
            "client_id": "scale",
            "observed_at": NOW - timedelta(days=30) + timedelta(minutes=seq),
            "created_at": NOW,
            "lat": 10.0,
            "lon": 95.0,
            "doc": json.dumps({"id": f"sighting-{seq}", "observed_at": iso(NOW)}),
        }
        for seq in range(start, stop)
    ]


def _versions(record: int, start: int, stop: int) -> list[dict[str, Any]]:
    """Versions `start` to `stop - 1` of record `record`, as `record_row` has it."""
    row = record_row(record)
    handling = {name: row[name] for name in POLICY_COLUMNS if name != "kind"}
    return [
        {
            **handling,
            "record_id": record_id(record),
            "version": number,
            "client_id": "scale",
            "created_at": NOW - timedelta(days=30) + timedelta(minutes=number),
            "kind": "alert",
            "doc": row["doc"],
        }
        for number in range(start, stop)
    ]


@pytest.mark.parametrize("part", ["sightings", "versions"])
def test_a_track_reads_its_newest_fixes_however_many_one_record_has(
    registry: Database, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    """A case's or a vessel's track draws on the newest MAX_FIXES sightings and versions of its
    records (here 100). Both were one statement over every sighting (every version) of those
    records, sorted to keep the newest: 40 ms at 100,000 sightings of one record, growing
    with each. Each record now gives its newest through an index, and only those are sorted."""
    db = registry
    monkeypatch.setattr(tracks, "MAX_FIXES", 100)
    insert(db, RECORD, [record_row(1), record_row(2)])
    rows, table = (_sightings, SIGHTING) if part == "sightings" else (_versions, VERSION)
    insert(db, table, rows(2, 1, 11))  # a second record, with a few of its own

    def unit(session: Session) -> Any:
        if part == "sightings":
            return tracks.sighting_docs(session, [record_id(1), record_id(2)])
        return tracks.version_fixes(session, READER, [record_id(1), record_id(2)])

    needle = "FROM sighting" if part == "sightings" else "FROM record_version"
    insert(db, table, rows(1, 11, SMALL + 11))
    small = work_of(db, unit, needle)
    insert(db, table, rows(1, SMALL + 11, BIG + 11))
    big = work_of(db, unit, needle)
    assert_bounded(small, big, f"a track's {part}")
    found = db.run_read(unit)
    assert len(found) == 100
    if part == "sightings":  # oldest seen first, ending with the newest
        assert [doc["id"] for doc in found] == [f"sighting-{s}" for s in range(BIG - 89, BIG + 11)]


def _subscription() -> dict[str, Any]:
    """READER's agency's one subscription, that `_deliveries` are for."""
    return {
        "id": "the-subscription",
        "agency": READER.agency,
        "client_id": "scale",
        "url": "https://partner.example/hook",
        "event_types": ["*"],
        "filter": {},
        "secret": "sealed",
        "enabled": True,
        "consecutive_failures": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _deliveries(start: int, stop: int, state: str) -> list[dict[str, Any]]:
    """Deliveries `start` to `stop - 1` of the subscription, one a second, in `state`."""
    at = NOW - timedelta(days=30)
    return [
        {
            "id": f"delivery-{n}",
            "subscription_id": "the-subscription",
            "event_id": f"event-{n}",
            "event_type": "ping",
            "payload": "{}",
            "state": state,
            "attempts": 1,
            "next_attempt_at": at + timedelta(seconds=n),
            "created_at": at + timedelta(seconds=n),
        }
        for n in range(start, stop)
    ]


@pytest.mark.parametrize("state", [None, "pending", "succeeded", "failed"])
def test_a_subscriptions_latest_deliveries_cost_a_page_however_long_its_history(
    registry: Database, state: str | None
) -> None:
    """GET /v1/subscriptions/{id}/deliveries?state=: the latest 200 of a subscription's
    deliveries in a state cost a page, whatever its history holds (a partner with a backlog
    of pending ones, a long history of succeeded or failed ones)."""
    db = registry
    admin = replace(
        READER, roles=frozenset([Role.AGENCY_ADMIN]), scopes=ROLE_SCOPES[Role.AGENCY_ADMIN]
    )
    insert(db, SUBSCRIPTION, [_subscription()])

    def history(start: int, stop: int) -> list[dict[str, Any]]:
        """A third each succeeded, pending (a backlog) and failed: a full page of each."""
        cycle = ("succeeded", "pending", "failed")
        return [row for n in range(start, stop) for row in _deliveries(n, n + 1, cycle[n % 3])]

    def unit(session: Session) -> Any:
        return deliveries.list_deliveries(session, admin, "the-subscription", state)

    insert(db, DELIVERY, history(0, SMALL))
    small = work_of(db, unit, "FROM delivery", "ORDER BY delivery.created_at")
    insert(db, DELIVERY, history(SMALL, BIG))
    big = work_of(db, unit, "FROM delivery", "ORDER BY delivery.created_at")
    assert_bounded(small, big, f"deliveries in state {state}")
    found = db.run_read(unit)
    newest = {None: BIG - 1, "succeeded": BIG - 1, "pending": BIG - 3, "failed": BIG - 2}
    assert len(found) == 200
    assert found[0]["id"] == f"delivery-{newest[state]}"


def test_an_audit_page_from_a_late_since_costs_a_page(registry: Database) -> None:
    """`since` near the end of a long trail: the first row at `since` was found by `min(seq)`
    with that condition, which SQLite answered by walking the trail from its start (28.8 ms
    at a million rows). It is read through the index on `at` now, and only for a first page
    (a cursor is already past it)."""
    db = registry
    auditor = replace(READER, roles=frozenset([Role.AUDITOR]), scopes=ROLE_SCOPES[Role.AUDITOR])

    def late(rows: int) -> Any:
        wanted = listing.AuditFilter(since=NOW + timedelta(seconds=rows - 9), limit=50)
        return lambda session: listing.list_events(session, auditor, wanted)

    insert(db, AUDIT, _audit_rows(1, SMALL + 1, country="MY"))
    small = work_of(db, late(SMALL), "FROM audit_event", "audit_event.at")
    insert(db, AUDIT, _audit_rows(SMALL + 1, BIG + 1, country="MY"))
    big = work_of(db, late(BIG), "FROM audit_event", "audit_event.at")
    assert_bounded(small, big, "the first row at a late since")
    _shown, cursor, seqs = db.run_read(late(BIG))
    assert (seqs, cursor) == (list(range(BIG - 9, BIG + 1)), None)


def test_a_notice_looks_only_at_its_subscriptions_open_deliveries(registry: Database) -> None:
    """An erasure notice waits while an earlier delivery of its record is open to the same
    subscription (delivery/outbox.py). The check first read every event of the record, and a
    record sighted often has them by the thousand, for each notice of each subscription; it
    reads the subscription's open deliveries now, whatever the record's history (here every
    sighting of the record was delivered to the subscription)."""
    db = registry
    now = NOW
    insert(db, SUBSCRIPTION, [_subscription()])

    def events(start: int, stop: int) -> list[dict[str, Any]]:
        rows = event_rows(stop - start)
        for seq, row in zip(range(start, stop), rows, strict=True):
            row.update(seq=seq, record_id=record_id(1), type="sighting.created")
        return rows

    def delivery(seq: int, event_type: str, leased: bool) -> dict[str, Any]:
        [row] = _deliveries(seq, seq + 1, "pending")
        until = now + timedelta(seconds=60) if leased else None
        return {
            **row,
            "event_seq": seq,
            "event_type": event_type,
            "lease_until": until,
            "next_attempt_at": until or now,
        }

    def unit(session: Session) -> Any:
        params = {"ids": ["delivery-999999"], "now": now, "claimed": ["delivery-999999"]}
        return session.connection().execute(outbox._BEHIND_A_COPY, params).scalars().all()

    def delivered(start: int, stop: int) -> list[dict[str, Any]]:
        """Each of those sightings delivered to the subscription long ago."""
        return [
            {**delivery(seq, "sighting.created", False), "state": "succeeded"}
            for seq in range(start, stop)
        ]

    insert(db, EVENT, events(1, SMALL))
    insert(db, EVENT, events(999_999, 1_000_000))
    insert(db, DELIVERY, [*delivered(1, SMALL), delivery(999_999, "alert.purged", False)])
    small = work_of(db, unit, "EXISTS")  # no copy open: the look must find none
    insert(db, EVENT, events(SMALL, BIG))
    insert(db, DELIVERY, delivered(SMALL, BIG))
    big = work_of(db, unit, "EXISTS")
    assert_bounded(small, big, "a notice's look for an open copy")
    assert db.run_read(unit) == []
    insert(db, EVENT, events(BIG, BIG + 1))
    insert(db, DELIVERY, [delivery(BIG, "sighting.created", True)])
    assert db.run_read(unit) == ["delivery-999999"]  # an open copy holds it back
