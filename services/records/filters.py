"""The list filters that follow a record's links: its case and the vessels it names."""

from typing import Any

from sqlalchemy import ColumnElement, bindparam, select
from sqlmodel import col

from models.records import Record
from models.tables import VESSEL_LINK


def linked(*, case_id: bool, vessels: int) -> list[ColumnElement[bool]]:
    """Conditions on `record` for a `case_id` (bound as `case_id`; served by ix_record_case)
    and for `vessels` vessel keys (bound as `vessel_0`, …; served by vessel_link's primary
    key, which leads with the key): a record must name every one of them."""
    conditions: list[ColumnElement[bool]] = []
    if case_id:
        conditions.append(col(Record.case_id) == bindparam("case_id"))
    for n in range(vessels):
        named = select(VESSEL_LINK.c.record_id).where(VESSEL_LINK.c.key == bindparam(f"vessel_{n}"))
        conditions.append(col(Record.id).in_(named))
    return conditions


def linked_values(case_id: str | None, vessel_keys: tuple[str, ...]) -> dict[str, Any]:
    """What `linked` binds."""
    values: dict[str, Any] = {f"vessel_{n}": key for n, key in enumerate(vessel_keys)}
    if case_id is not None:
        values["case_id"] = case_id
    return values
