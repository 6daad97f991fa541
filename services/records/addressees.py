"""The agencies and countries a record names, checked against the registry: every code must
exist, its coordinating RCC must be an MRCC, and every agency it names to coordinate or to
acknowledge must be able to read it under its own handling (never widened to make it so)."""

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from auth.policy import POLICY_COLUMNS, agency_reader, can_agency_read
from core.errors import Unprocessable
from models.enums import AgencyType
from models.registry import Agency, Country


@dataclass
class VersionHandling:
    """What the policy reads of a version about to be written (`auth.policy.Readable`)."""

    kind: str
    status: str
    sender_agency: str
    sender_country: str
    distribution: str
    tlp: str
    recipient_countries: str
    recipient_agencies: str


def handled(columns: dict[str, Any]) -> VersionHandling:
    return VersionHandling(**{name: columns[name] for name in POLICY_COLUMNS})


def check_registry(session: Session, payload: dict[str, Any]) -> None:
    """Every country and agency a record names must exist in the registry.

    The registry only grows, so codes once found are remembered on the connection.
    """
    handling = payload["handling"]
    wanted: dict[str, tuple[Any, list[str]]] = {
        "handling.recipient_countries": (Country.code, handling["recipient_countries"]),
        "handling.recipient_agencies": (Agency.code, handling["recipient_agencies"]),
        "handling.ack_required_from": (Agency.code, handling.get("ack_required_from", [])),
    }
    if payload.get("coordinating_rcc"):
        wanted["coordinating_rcc"] = (Agency.code, [payload["coordinating_rcc"]])
    known: set[tuple[str, str]] = session.connection().info.setdefault("rilon_known_codes", set())
    errors = []
    for field, (column, codes) in wanted.items():
        table = column.class_.__name__
        missing = {code for code in codes if (table, code) not in known}
        if not missing:
            continue
        found = set(session.exec(select(column).where(col(column).in_(missing))).all())
        known.update((table, code) for code in found)
        for code in sorted(missing - found):
            errors.append({"field": field, "message": f"{code} is not in the registry"})
    if errors:
        raise Unprocessable(errors)


def check_named(session: Session, version: VersionHandling, payload: dict[str, Any]) -> None:
    """The coordinating RCC and the agencies asked to acknowledge, as this version names them."""
    required: list[str] = payload["handling"].get("ack_required_from", [])
    rcc: str | None = payload.get("coordinating_rcc")
    agencies = _agencies(session, {*required, *([rcc] if rcc else [])})
    errors = coordinator_errors(agencies, version, rcc, "coordinating_rcc") if rcc else []
    for code in required:
        agency = agencies.get(code)
        if agency is None:
            message = f"{code} is not in the registry"
        elif code == version.sender_agency:
            message = f"{code} sends this record; the sender does not acknowledge its own"
        elif agency.type == AgencyType.SECRETARIAT:
            message = f"{code} is the secretariat; it does not acknowledge records"
        elif not can_agency_read(agency_reader(code, agency.country, agency.type), version):
            message = f"{code} cannot read this record under its handling"
        else:
            continue
        errors.append({"field": "handling.ack_required_from", "message": message})
    if errors:
        raise Unprocessable(errors)


def check_coordinator(session: Session, version: VersionHandling, code: str, field: str) -> None:
    errors = coordinator_errors(_agencies(session, {code}), version, code, field)
    if errors:
        raise Unprocessable(errors)


def coordinator_errors(
    agencies: dict[str, Agency], version: VersionHandling, code: str, field: str
) -> list[dict[str, str]]:
    """A coordinating RCC is an MRCC that can read the report (an actual one always can)."""
    agency = agencies.get(code)
    if agency is None:
        message = f"{code} is not in the registry"
    elif agency.type != AgencyType.MRCC:
        message = f"{code} is a {agency.type} agency; only an mrcc coordinates"
    elif not can_agency_read(agency_reader(code, agency.country, agency.type), version):
        message = (
            f"{code} cannot read this report under its handling; "
            "name it in handling.recipient_agencies first"
        )
    else:
        return []
    return [{"field": field, "message": message}]


def _agencies(session: Session, codes: set[str]) -> dict[str, Agency]:
    if not codes:
        return {}
    rows = session.exec(select(Agency).where(col(Agency.code).in_(codes))).all()
    return {agency.code: agency for agency in rows}
