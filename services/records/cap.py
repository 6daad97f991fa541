"""CAP 1.2 (OASIS Common Alerting Protocol) rendering of an alert and its history."""

import json
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from sqlmodel import Session

from auth.principal import Principal
from models.inputs import FORBIDDEN
from services.records.kinds import ALERTS
from services.records.reading import get
from services.records.versions import all_versions

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
EVENTS = {
    "smuggling_departure": "People-smuggling departure",
    "vessel_at_sea": "Vessel at sea",
    "suspicious_vessel": "Suspicious vessel",
    "landing": "Landing",
    "facilitator_activity": "Facilitator activity",
    "trafficking_indicator": "Trafficking indicator",
    "document_fraud": "Document fraud",
    "interception": "Interception",
    "other": "Other incident",
}


def cap_time(value: str) -> str:
    """CAP wants `YYYY-MM-DDThh:mm:ss+hh:mm`: no fraction, no `Z`."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}+00:00"  # %Y leaves year 999 unpadded


def _num(value: float) -> str:
    return format(value, ".6f").rstrip("0").rstrip(".")


def _identifier(doc: dict[str, Any]) -> str:
    return f"urn:uuid:{doc['id']}:v{doc['version']}"


def _sender(doc: dict[str, Any]) -> str:
    return f"{doc['sender_agency']}@rilon"


def _add(parent: ET.Element, tag: str, text: Any) -> None:
    if text is not None and text != "":
        # Input refuses control characters; a row stored before it did must still make XML
        clean = FORBIDDEN.sub("\ufffd", str(text))
        ET.SubElement(parent, f"{{{CAP_NS}}}{tag}").text = clean


def to_cap(history: list[dict[str, Any]]) -> bytes:
    """Render the newest version; earlier versions become its `references`.

    `history` holds only the versions the reader may read: the first of them is an `Alert`
    to that reader, whatever its number, since no message it could have seen precedes it.
    """
    doc = history[-1]
    handling = doc["handling"]
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _add(alert, "identifier", _identifier(doc))
    _add(alert, "sender", _sender(doc))
    _add(alert, "sent", cap_time(doc["updated_at"]))
    _add(alert, "status", doc["status"].capitalize())
    cancelled = doc["state"] == "cancelled"
    _add(alert, "msgType", "Cancel" if cancelled else "Alert" if len(history) == 1 else "Update")
    _add(alert, "source", "RILON Liaison API")
    private = handling["tlp"] == "red" or handling["distribution"] == "agency"
    if private:
        _add(alert, "scope", "Private")
        addresses = [doc["sender_agency"], *handling["recipient_agencies"]]
        _add(alert, "addresses", " ".join(dict.fromkeys(addresses)))
    else:
        _add(alert, "scope", "Restricted")
        _add(alert, "restriction", _restriction(doc))
    _add(alert, "code", f"TLP:{handling['tlp'].upper()}")
    _add(alert, "note", doc.get("cancel_reason") if cancelled else None)
    earlier = [f"{_sender(v)},{_identifier(v)},{cap_time(v['updated_at'])}" for v in history[:-1]]
    _add(alert, "references", " ".join(earlier) or None)
    _add(alert, "incidents", doc.get("case_id"))
    alert.append(_info(doc))
    ET.register_namespace("", CAP_NS)
    xml: bytes = ET.tostring(alert, encoding="utf-8", xml_declaration=True)
    return xml


def _restriction(doc: dict[str, Any]) -> str:
    handling = doc["handling"]
    scope = {
        "national": f"agencies of {doc['sender_country']}",
        "countries": "agencies of "
        + ", ".join([doc["sender_country"], *handling["recipient_countries"]]),
        "network": "agencies of the RILON network",
    }[handling["distribution"]]
    named = handling["recipient_agencies"]
    return f"RILON members only: {scope}" + (f" and {', '.join(named)}" if named else "")


def _info(doc: dict[str, Any]) -> ET.Element:
    info = ET.Element(f"{{{CAP_NS}}}info")
    _add(info, "language", doc.get("language") or "en")  # older records have none: en
    _add(info, "category", "Security")
    _add(info, "event", EVENTS[doc["category"]])
    _add(info, "urgency", doc["urgency"].capitalize())
    _add(info, "severity", doc["severity"].capitalize())
    _add(info, "certainty", doc["certainty"].capitalize())
    if doc.get("observed_at"):
        _add(info, "onset", cap_time(doc["observed_at"]))
    if doc.get("expires_at"):
        _add(info, "expires", cap_time(doc["expires_at"]))
    _add(info, "senderName", doc["sender_agency"])
    _add(info, "headline", doc["headline"])
    _add(info, "description", doc.get("description"))
    persons = doc.get("persons") or {}
    handling = doc["handling"]
    for name, value in (
        ("rilonCategory", doc["category"]),
        ("personsEstimate", persons.get("estimate")),
        # what the record may be used for, and whether it names people (data protection)
        ("rilonPurpose", handling.get("purpose")),
        ("rilonPersonalData", str(handling.get("personal_data", False)).lower()),
        ("rilonRetainUntil", cap_time(doc["retain_until"]) if doc.get("retain_until") else None),
    ):
        if value is not None:
            parameter = ET.SubElement(info, f"{{{CAP_NS}}}parameter")
            _add(parameter, "valueName", name)
            _add(parameter, "value", value)
    info.append(_area(doc))
    return info


def _area(doc: dict[str, Any]) -> ET.Element:
    area = ET.Element(f"{{{CAP_NS}}}area")
    location = doc["location"]
    description = (
        doc.get("place_name") or doc.get("sea_area") or f"{location['lat']},{location['lon']}"
    )
    _add(area, "areaDesc", description)
    if doc.get("area"):
        ring = doc["area"]["coordinates"][0]
        _add(area, "polygon", " ".join(f"{_num(lat)},{_num(lon)}" for lon, lat in ring))
    radius_km = (location.get("accuracy_m") or 0) / 1000
    _add(area, "circle", f"{_num(location['lat'])},{_num(location['lon'])} {_num(radius_km)}")
    return area


def alert_as_cap(session: Session, principal: Principal, record_id: str) -> bytes:
    """The alert as CAP, referencing only the earlier versions the caller may read."""
    docs = [json.loads(doc) for doc in all_versions(session, principal, ALERTS, record_id)]
    current = json.loads(get(session, principal, ALERTS, record_id)[0])
    docs[-1] = current  # the current state, with expiry applied
    return to_cap(docs)
