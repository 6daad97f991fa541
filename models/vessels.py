"""Vessels by identity: the keys that link records naming the same boat, and their index."""

import re
from collections.abc import Iterable
from typing import Any

from sqlmodel import Field, SQLModel

from models.shapes import imo_check_digit_ok

PREFIXES = ("mmsi", "imo", "callsign")
CALL_SIGN = re.compile(r"^[A-Z0-9]{1,20}$")
KEY_DESCRIPTION = (
    "`mmsi:` and 9 digits, `imo:` and 7 digits (with a valid check digit), or `callsign:` "
    "and the call sign (letters and digits; case, spaces and hyphens are ignored)"
)


class VesselLink(SQLModel, table=True):
    """One vessel identifier a record's current version names: `mmsi:…`, `imo:…`,
    `callsign:…`. The primary key leads with `key`, so a vessel's records are one index
    range; the `record_id` index serves rewriting a record's links when it changes."""

    __tablename__ = "vessel_link"

    key: str = Field(primary_key=True, max_length=40)
    record_id: str = Field(foreign_key="record.id", primary_key=True, max_length=36, index=True)


def normal_call_sign(value: str) -> str | None:
    """A call sign as linked: upper case, without spaces or hyphens; None if it is not one."""
    sign = re.sub(r"[\s-]", "", value).upper()
    return sign if CALL_SIGN.match(sign) else None


def parse_key(text: str) -> str:
    """A vessel key in its normal form; ValueError saying what is wrong with it."""
    prefix, colon, value = text.partition(":")
    prefix = prefix.strip().lower()
    if not colon or prefix not in PREFIXES:
        raise ValueError(f"a vessel key is {KEY_DESCRIPTION}")
    value = value.strip()
    if prefix == "mmsi" and re.fullmatch(r"[0-9]{9}", value):
        return f"mmsi:{value}"
    if prefix == "imo" and re.fullmatch(r"[0-9]{7}", value):
        if not imo_check_digit_ok(value):
            raise ValueError("IMO number check digit does not match")
        return f"imo:{value}"
    if prefix == "callsign":
        sign = normal_call_sign(value)
        if sign is not None:
            return f"callsign:{sign}"
    raise ValueError(f"not a valid {prefix}: a vessel key is {KEY_DESCRIPTION}")


def keys_of_vessel(vessel: dict[str, Any]) -> list[str]:
    keys = []
    if vessel.get("mmsi"):
        keys.append(f"mmsi:{vessel['mmsi']}")
    if vessel.get("imo"):
        keys.append(f"imo:{vessel['imo']}")
    sign = normal_call_sign(vessel["call_sign"]) if vessel.get("call_sign") else None
    if sign is not None:
        keys.append(f"callsign:{sign}")
    return keys


def vessels_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The vessels a record names: an alert's `vessels`, a distress report's `vessel`."""
    if "vessels" in doc:
        return list(doc["vessels"] or [])
    return [doc["vessel"]] if doc.get("vessel") else []


def vessel_keys(doc: dict[str, Any]) -> list[str]:
    """Every vessel key a record names, sorted, each once."""
    return sorted({key for vessel in vessels_of(doc) for key in keys_of_vessel(vessel)})


def matched(keys: Iterable[str], wanted: Iterable[str]) -> list[str]:
    return sorted(set(keys) & set(wanted))
