"""Reading the audit trail: filtered pages for auditors, JSON lines for export."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from auth.policy import can_see_audited_record, can_see_client_id, readable_audit
from auth.principal import Principal
from models.audit import AuditEvent
from models.registry import Agency, Client
from services.audit.trail import rows
from services.records.reading import decode_cursor, encode_cursor

CLIENTS = "clients"  # the object type of a row about a client: its id is a client id
# Rows of the trail one page looks at, at most. The trail gains a row a request, and an
# auditor of a country whose agencies act rarely (or a filter on `outcome`, which no index
# serves) would otherwise walk all of it for each page. Seqs run without gaps, so this is a
# range of the primary key: the page ends there, its cursor moved on, as the feed's does.
# Not with `object_id`: its index finds that record's rows wherever they are, and who read
# one record is the question an auditor should not have to page through the trail to answer.
WALK = 100_000


@dataclass(frozen=True)
class AuditFilter:
    actor_agency: str | None = None
    action: str | None = None
    object_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    limit: int = 100
    cursor: str | None = None


def as_json(event: dict[str, Any], reader: Principal | None = None) -> dict[str, Any]:
    """An event as the API shows it: to `reader`, only the records named in its detail that
    `can_see_audited_record` lets it see (the stored row, and its hash, stay as they are)."""
    shown = {k: v for k, v in event.items() if k != "object_countries"}
    shown["detail"] = json.loads(event["detail"])
    if reader is not None:
        shown["detail"] = _records_shown(reader, event, shown["detail"])
    shown["at"] = event["at"].isoformat().replace("+00:00", "Z")
    return shown


def _records_shown(reader: Principal, event: dict[str, Any], detail: Any) -> Any:
    """The detail with the record ids of a list's row narrowed to those `reader` may see."""
    if not isinstance(detail, dict) or not isinstance(detail.get("ids"), list):
        return detail
    ids: list[Any] = detail["ids"]
    countries = detail.get("id_countries")
    if not isinstance(countries, list) or len(countries) != len(ids):
        # Noted before each id's country was: known only where the row names one country.
        filed = [country for country in event["object_countries"].split(",") if country]
        countries = filed * len(ids) if len(filed) == 1 else [None] * len(ids)
    actor_country = event["actor_country"]
    kept = [
        (record, country)
        for record, country in zip(ids, countries, strict=True)
        if can_see_audited_record(reader, actor_country, country)
    ]
    narrowed = {**detail, "ids": [record for record, _ in kept]}
    if "id_countries" in detail:
        narrowed["id_countries"] = [country for _, country in kept]
    return narrowed


def list_events(
    session: Session, principal: Principal, wanted: AuditFilter
) -> tuple[list[dict[str, Any]], str | None, list[int]]:
    """Oldest first after the cursor; only what the caller may read. Returns the seqs too.

    A page looks at no more than WALK rows (unless it asks for one `object_id`): when they
    hold fewer than `limit` the caller may read, the page is short (or empty) and its cursor
    names where the walk stopped; the cursor is null only once the walk has reached the
    newest row."""
    after = decode_cursor(wanted.cursor) if wanted.cursor is not None else 0
    if wanted.since is not None and wanted.cursor is None:  # a cursor is already past it
        first = first_at(session, wanted.since)
        if first is None:
            return [], None, []
        after = first - 1
    newest = newest_seq(session)
    upto = newest if wanted.object_id is not None else min(newest, after + WALK)
    query = select(AuditEvent).where(
        col(AuditEvent.seq) > after, col(AuditEvent.seq) <= upto, readable_audit(principal)
    )
    for column, value in (
        (AuditEvent.actor_agency, wanted.actor_agency),
        (AuditEvent.action, wanted.action),
        (AuditEvent.object_id, wanted.object_id),
        (AuditEvent.outcome, wanted.outcome),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if wanted.since is not None:
        query = query.where(col(AuditEvent.at) >= wanted.since)
    found = session.exec(query.order_by(col(AuditEvent.seq)).limit(wanted.limit + 1)).all()
    page = found[: wanted.limit]
    cursor = None
    if len(found) > wanted.limit:
        cursor = encode_cursor(page[-1].seq)
    elif upto < newest:
        cursor = encode_cursor(upto)  # the walk stopped short of the newest row: read on
    named = {e.actor_client for e in page} | {e.object_id for e in page if e.object_type == CLIENTS}
    owners = _owners(session, named)
    shown = [_shown(event, principal, owners) for event in page]
    return shown, cursor, [event.seq for event in page]


def newest_seq(session: Session) -> int:
    """The last row of the trail (0 when it is empty): a walk that reached it is done."""
    return session.exec(select(func.max(AuditEvent.seq))).one() or 0


def first_at(session: Session, since: datetime) -> int | None:
    """The first row at or after `since`, read through the index on `at` (`min(seq)` with that
    condition walked the trail from its start on SQLite). Rows are timed as they are
    appended, so seq and `at` agree but within a writer's batch: the first few by `at` are
    looked at."""
    first_by_time = (
        select(AuditEvent.seq)
        .where(col(AuditEvent.at) >= since)
        .order_by(col(AuditEvent.at))
        .limit(100)
        .subquery()
    )
    first: int | None = session.exec(select(func.min(first_by_time.c.seq))).one()
    return first


def _owners(session: Session, client_ids: set[str | None]) -> dict[str, tuple[str, str]]:
    """The agency and country of each of these that is a client (not, say, the dispatcher)."""
    found = session.exec(
        select(Client.client_id, Client.agency, Agency.country)
        .join(Agency, col(Agency.code) == col(Client.agency))
        .where(col(Client.client_id).in_(client_ids - {None}))
    ).all()
    return {client_id: (agency, country) for client_id, agency, country in found}


def _shown(
    event: AuditEvent, principal: Principal, owners: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    """The row as the caller may see it: client ids it may not see (the actor's, or a client
    acted on, say by a platform admin) become their agency's code."""
    shown = as_json(event.model_dump(), principal)
    actor = owners.get(event.actor_client or "")
    if actor is not None and not can_see_client_id(principal, *actor):
        shown["actor_client"] = actor[0]
    target = owners.get(event.object_id or "") if event.object_type == CLIENTS else None
    if target is not None and not can_see_client_id(principal, *target):
        shown["object_id"] = target[0]
        if isinstance(shown["detail"], dict) and "client_id" in shown["detail"]:
            shown["detail"]["client_id"] = target[0]
    return shown


def count(session: Session, since: datetime | None = None) -> int:
    """How many events `export` (or, without `since`, `verify`) will walk: for progress bars."""
    query = select(func.count()).select_from(AuditEvent)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    return session.exec(query).one()


def export(session: Session, since: datetime | None = None) -> Iterator[str]:
    """Every event (from `since`) as one JSON line each, chain fields included. With
    `since`, the walk starts at its first event (the index on `at`), not at the first row."""
    after = 0
    if since is not None:
        first = first_at(session, since)
        if first is None:
            return
        after = first - 1
    for row in rows(session, after):
        if since is None or row["at"] >= since:
            yield json.dumps(as_json(row), sort_keys=True)
