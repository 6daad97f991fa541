"""SAR coordination of a distress report: handing it from one MRCC to another."""

from typing import Any

from sqlmodel import Session

from auth.principal import Principal
from core.clock import iso, utcnow
from core.errors import Conflict
from services.records.addressees import check_coordinator, handled
from services.records.kinds import DISTRESS
from services.records.publishing import Saved, changeable, revalidated, save
from services.records.retention import DEFAULT, Retention


def hand_over(
    session: Session,
    principal: Principal,
    record_id: str,
    to: str,
    note: str | None,
    if_match: int | None = None,
    retention: Retention = DEFAULT,
) -> Saved:
    """Make `to` the coordinating RCC, as a new version, by the sender or the current RCC.

    `to` must be an MRCC able to read the report under its handling as it stands: handing
    over never widens who reads it (docs/DECISIONS.md)."""
    row, current = changeable(session, principal, DISTRESS, record_id, if_match)
    if row.coordinator == to:
        raise Conflict(f"{to} already coordinates this distress report")
    check_coordinator(session, handled(row.model_dump()), to, "to")
    doc: dict[str, Any] = {**current, "coordinating_rcc": to}
    data = revalidated(DISTRESS, doc)
    news = {
        "coordination": {
            "from": row.coordinator,
            "to": to,
            "by": principal.agency,
            "note": note,
            "at": iso(utcnow()),
        }
    }
    change = "coordination_changed"
    return save(session, principal, DISTRESS, row, doc, data, change, news, retention=retention)
