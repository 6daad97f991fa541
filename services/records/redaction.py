"""Redaction: the sender agency removes text from one version, wherever it was copied.

The version, the current record when it is that version, and every event that carried that
version get `"[redacted]"` in place of the text, in one transaction; nothing else changes (the
version number, the ETag, the other versions). `alert.redacted` / `distress.redacted`, under
that version's own handling, tells exactly the agencies that could read it. Only free text can
be redacted: enumerations, identifiers, numbers and positions keep their published shape, and
a sender corrects those with an update.
"""

import json
import re
from datetime import datetime
from typing import Any

from sqlmodel import Session

from auth.policy import POLICY_COLUMNS
from auth.principal import Principal
from core.clock import iso
from core.errors import Forbidden, NotFound, Unprocessable
from core.jsontext import dumps
from models.records import RecordVersion
from models.tables import EVENT, RECORD, VERSION
from services.records import reading, vessels
from services.records.events import EVENT_COLUMNS, emit
from services.records.kinds import KindSpec
from services.records.publishing import Saved

REDACTED = "[redacted]"
_VESSEL = ("name", "call_sign", "vessel_type", "hull_colour", "markings")
# The fields that hold free text, `#` standing for a list index.
TEXT_FIELDS = {
    "alert": (
        "headline",
        "description",
        "place_name",
        "sea_area",
        "cancel_reason",
        *(f"vessels.#.{name}" for name in _VESSEL),
    ),
    "distress": (
        "weather_on_scene",
        "actions_taken",
        "close_note",
        "assistance_required.#",
        *(f"vessel.{name}" for name in _VESSEL),
    ),
}


def redact(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    record_id: str,
    number: int,
    fields: list[str],
    now: datetime,
) -> Saved:
    """Redact `fields` of version `number`; the version as it now reads, with `redaction`."""
    row = reading.load(session, principal, spec, record_id, for_update=True)
    if row.sender_agency != principal.agency:
        raise Forbidden("only the sender agency redacts its records")
    kind = spec.kind.value
    check_fields(kind, fields)
    version = session.get(RecordVersion, (record_id, number))
    if version is None:
        raise NotFound(f"{kind} {record_id} has no version {number}")
    doc = json.loads(version.doc)
    problems = [problem for path in fields if (problem := _missing(doc, path))]
    if problems:
        raise Unprocessable(problems)
    redaction = {"version": number, "fields": sorted(set(fields)), "redacted_at": iso(now)}
    removed = {path: _at(doc, path) for path in fields}
    if not _apply(doc, fields):  # already redacted: a retry changes nothing, tells nobody
        redaction["redacted_at"] = _first_told(session, kind, record_id, number, fields) or iso(now)
        redaction["also_in_versions"] = None  # the text is gone: nothing left to compare with
        return Saved(_with(doc, redaction), record_id, number, row.sender_country)
    run = session.connection().execute
    text = dumps(doc)
    key = (VERSION.c.record_id == record_id, VERSION.c.version == number)
    run(VERSION.update().where(*key).values(doc=text))
    if row.version == number:
        current = json.loads(row.doc)
        _apply(current, fields)
        search_text = spec.columns(current)["search_text"]
        run(
            RECORD.update()
            .where(RECORD.c.seq == row.seq)
            .values(doc=dumps(current), search_text=search_text)
        )
        vessels.relink(session, principal, record_id, current, row.seq)
    _redact_events(session, record_id, number, fields)
    columns = {
        "id": record_id,
        **{name: getattr(version, name) for name in POLICY_COLUMNS},
        **{name: value for name, value in spec.columns(doc).items() if name in EVENT_COLUMNS},
    }
    emit(session, f"{kind}.redacted", columns, _with(doc, redaction))
    # The answer (only) says which other versions still hold the same text: each version is
    # redacted on its own, and an update copies what it does not change.
    redaction["also_in_versions"] = _also_in(session, record_id, number, removed)
    return Saved(_with(doc, redaction), record_id, number, row.sender_country)


def _first_told(
    session: Session, kind: str, record_id: str, number: int, fields: list[str]
) -> str | None:
    """When these fields of the version were redacted, as the partners' notices said (the
    latest of them, if they went in more than one redaction)."""
    notices = session.connection().execute(
        EVENT.select()
        .with_only_columns(EVENT.c.data)
        .where(EVENT.c.record_id == record_id, EVENT.c.type == f"{kind}.redacted")
    )
    told = [
        redaction["redacted_at"]
        for (data,) in notices
        if (redaction := json.loads(data).get("redaction", {})).get("version") == number
        and set(redaction.get("fields", ())) & set(fields)
    ]
    return max(told) if told else None


def _with(doc: dict[str, Any], redaction: dict[str, Any]) -> str:
    return dumps({**doc, "redaction": redaction})


def _at(doc: dict[str, Any], path: str) -> Any:
    found = _parent(doc, path)
    return None if found is None else found[0][found[1]]


def _also_in(session: Session, record_id: str, number: int, removed: dict[str, Any]) -> list[int]:
    """The other versions holding a removed text in the same field, at any list index: an
    update that puts a vessel or a need in front moves the copied text to another index."""
    texts = [(_pattern(path), text) for path, text in removed.items() if text != REDACTED]
    others = session.connection().execute(
        VERSION.select()
        .with_only_columns(VERSION.c.version, VERSION.c.doc)
        .where(VERSION.c.record_id == record_id, VERSION.c.version != number)
        .order_by(VERSION.c.version)
    )
    return [
        other
        for other, text in others
        if any(value in _texts_at(json.loads(text), pattern) for pattern, value in texts)
    ]


def _pattern(path: str) -> str:
    """A field path with each list index as `#`: `vessels.1.name` is `vessels.#.name`."""
    return re.sub(r"\.[0-9]+(?=\.|$)", ".#", path)


def _texts_at(node: Any, pattern: str) -> list[Any]:
    """Every value at `pattern` (`#` standing for any list index)."""
    nodes = [node]
    for part in pattern.split("."):
        if part == "#":
            nodes = [item for each in nodes if isinstance(each, list) for item in each]
        else:
            nodes = [each[part] for each in nodes if isinstance(each, dict) and part in each]
    return nodes


def check_fields(kind: str, fields: list[str]) -> None:
    """422 naming each path that is not a redactable text field of this kind."""
    allowed = TEXT_FIELDS[kind]
    wrong = [path for path in fields if _pattern(path) not in allowed]
    if wrong:
        known = ", ".join(f"`{name}`" for name in allowed)
        raise Unprocessable(
            [
                {
                    "field": "fields",
                    "message": f"`{path[:100]}` is not a text field of {a(kind)} "
                    f"(`#` is a list index, from 0): {known}",
                }
                for path in wrong
            ]
        )


def a(kind: str) -> str:
    return "an alert" if kind == "alert" else "a distress report"


def _parent(doc: dict[str, Any], path: str) -> tuple[Any, str | int] | None:
    """The container holding `path`'s last step and that step, if the path leads there."""
    parts = path.split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = _step(node, part)
        if node is None:
            return None
    last: str | int = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if isinstance(node, list) and not isinstance(last, int):
        return None
    if isinstance(node, list) and isinstance(last, int) and last >= len(node):
        return None
    if isinstance(node, dict) and last not in node:
        return None
    return (node, last) if isinstance(node, dict | list) else None


def _step(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isascii() and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None


def _missing(doc: dict[str, Any], path: str) -> dict[str, str] | None:
    found = _parent(doc, path)
    if found is None or found[0][found[1]] is None:
        return {"field": "fields", "message": f"`{path}` holds no text in this version"}
    return None


def _apply(doc: dict[str, Any], fields: list[str]) -> bool:
    """Put `[redacted]` at each path that holds text; whether anything changed."""
    changed = False
    for path in fields:
        found = _parent(doc, path)
        if found is None:
            continue
        node, last = found
        if isinstance(node[last], str) and node[last] != REDACTED:
            node[last] = REDACTED
            changed = True
    return changed


def _redact_events(session: Session, record_id: str, number: int, fields: list[str]) -> None:
    """Every event that carried version `number` of the record (created, updated, an
    acknowledgement, an overdue notice…), however its news was added beside it."""
    run = session.connection().execute
    events = run(
        EVENT.select()
        .with_only_columns(EVENT.c.seq, EVENT.c.data)
        .where(EVENT.c.record_id == record_id)
    ).all()
    for seq, data in events:
        event = json.loads(data)
        if event.get("id") != record_id or event.get("version") != number:
            continue  # a sighting, a tombstone, another version
        if _apply(event, fields):
            run(EVENT.update().where(EVENT.c.seq == seq).values(data=dumps(event)))
