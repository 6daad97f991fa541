"""Synthetic alerts for B3, and the page of 50 the list query must answer with.

Deterministic by index: record `i` is the same in the seeded database and in the baseline, so
the baseline serves the very rows the service finds (checked by `case_id` before any load).
"""

import copy
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auth.policy import Reader, can_agency_read, code_list
from core.clock import iso
from core.jsontext import dumps
from models.alerts import EXAMPLE, SEVERITY_RANK, AlertCreate
from models.enums import AgencyType
from services.records.retention import DEFAULT

# The filter every B3 request sends: about 12 % of the records, 11 % once visibility applies.
BBOX = (88.0, 5.0, 100.0, 20.0)  # min lon, min lat, max lon, max lat: Andaman Sea and south
MIN_SEVERITY = "severe"
LIMIT = 50
QUERY = f"bbox={','.join(f'{v:g}' for v in BBOX)}&severity={MIN_SEVERITY}&limit={LIMIT}"
SENDER = ("demo-bd-cg-duty", "BD-CG", "BD")  # the seeded records' sender
READER = Reader("MY-MMEA", "MY", AgencyType.COAST_GUARD)  # demo-my-mmea-duty reads them

_SEVERITIES = ["extreme", "severe", "moderate", "minor", "unknown"]
_SEVERITY_WEIGHTS = [10, 25, 35, 20, 10]
_CATEGORIES = ["smuggling_departure", "vessel_at_sea", "suspicious_vessel", "landing"]
_PARTNERS = ["ID", "LK", "MY", "TH", "VN"]
_CREATED = "2026-11-23T12:00:00Z"


@dataclass
class Row:
    """The columns the visibility policy reads, as `publish` stores them."""

    kind: str
    status: str
    sender_agency: str
    sender_country: str
    distribution: str
    tlp: str
    recipient_countries: str
    recipient_agencies: str


def alert_body(i: int) -> dict[str, Any]:
    """Record `i`: the example alert, moved over the Bay of Bengal and the Andaman Sea."""
    rng = random.Random(i)
    body = copy.deepcopy(EXAMPLE)
    body["category"] = rng.choice(_CATEGORIES)
    body["severity"] = rng.choices(_SEVERITIES, _SEVERITY_WEIGHTS)[0]
    body["location"] = {
        "lat": round(rng.uniform(0.0, 25.0), 4),
        "lon": round(rng.uniform(80.0, 100.0), 4),
        "accuracy_m": rng.choice([500, 2000, 5000]),
    }
    body["headline"] = f"Bench alert {i}: {body['headline']}"
    body["persons"] = {"estimate": rng.randint(20, 400)}
    body["case_id"] = f"BENCH-{i:06d}"
    body["status"] = "exercise" if rng.random() < 0.02 else "actual"
    draw = rng.random()
    handling: dict[str, Any]
    if draw < 0.80:
        handling = {"distribution": "network", "tlp": "red" if rng.random() < 0.03 else "amber"}
    elif draw < 0.92:
        handling = {"distribution": "countries", "recipient_countries": rng.sample(_PARTNERS, 2)}
    else:
        handling = {"distribution": "national"}
    body["handling"] = {"ack_required": rng.random() < 0.5, **handling}
    return body


def is_listed(body: dict[str, Any]) -> bool:
    """The list filter and the visibility policy, in Python, for the reader of B3."""
    min_lon, min_lat, max_lon, max_lat = BBOX
    where, handling = body["location"], body["handling"]
    row = Row(
        kind="alert",
        status=body["status"],
        sender_agency=SENDER[1],
        sender_country=SENDER[2],
        distribution=handling["distribution"],
        tlp=handling.get("tlp", "amber"),
        recipient_countries=code_list(sorted(handling.get("recipient_countries", []))),
        recipient_agencies="",
    )
    return (
        body["status"] == "actual"
        and SEVERITY_RANK[body["severity"]] >= SEVERITY_RANK[MIN_SEVERITY]
        and min_lat <= where["lat"] <= max_lat
        and min_lon <= where["lon"] <= max_lon
        and can_agency_read(READER, row)
    )


def as_doc(i: int, body: dict[str, Any]) -> str:
    """Record `i` as the service stores and answers it (see `services.records.publish`)."""
    alert = AlertCreate.model_validate(body)
    payload = alert.model_dump(mode="json")
    created = datetime.fromisoformat(_CREATED)
    doc = {
        "id": str(uuid.UUID(int=random.Random(-i).getrandbits(128), version=4)),
        "kind": "alert",
        "version": 1,
        "sender_agency": SENDER[1],
        "sender_country": SENDER[2],
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "state": "active",
        **payload,
        "cancel_reason": None,
        "retain_until": iso(DEFAULT.until(created, alert.handling)),
        "legal_hold": False,
    }
    observed = payload.get("observed_at")
    seen = datetime.fromisoformat(observed) if observed else None
    doc["position_age_seconds"] = int((datetime.now(UTC) - seen).total_seconds()) if seen else None
    return dumps(doc)


def newest_listed(count: int, limit: int = LIMIT) -> list[int]:
    """Indices of the first page the service answers over `count` records: newest first."""
    found: list[int] = []
    for i in range(count - 1, -1, -1):
        if is_listed(alert_body(i)):
            found.append(i)
            if len(found) == limit:
                break
    return found


def page_json(count: int) -> str:
    """The first page as the service answers it, `{"items": [...], "next_cursor": ...}`."""
    docs = [as_doc(i, alert_body(i)) for i in newest_listed(count)]
    cursor = "czEyMzQ1Njc"  # the shape of a real cursor (`s<seq>`, base64url)
    return '{"items":[' + ",".join(docs) + '],"next_cursor":' + json.dumps(cursor) + "}"
