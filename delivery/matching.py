"""Does an event match a subscription's filter? (Visibility is the policy's business.)"""

from typing import Any, Protocol

from models.alerts import SEVERITY_RANK

RECORD_KINDS = ("alert", "distress")  # what the filter's fields describe
# Notices that a copy must change or go: for whoever took any event of the kind
ERASURES = ("redacted", "purged")
SIGHTING = "sighting.created"  # its event carries the record's kind and handling


class Matchable(Protocol):
    type: str
    kind: str
    status: str
    category: str | None
    severity_rank: int
    sender_country: str
    lat: float
    lon: float


def matches(event_types: list[str], wanted: dict[str, Any], event: Matchable) -> bool:
    """Whether a subscription takes an event. A redaction or purge notice goes to every
    subscription taking any event of its kind, whatever its place or category filters (the
    copy it must change may have matched them when it was sent, and a purged record has no
    place left to match). A purge notice goes to those taking sightings too: a sighting's
    event (its note, where and by whom the boat was seen) is a copy the purge removes."""
    kind, _, change = event.type.partition(".")
    if change in ERASURES and kind in RECORD_KINDS:
        taken = "*" in event_types or any(t.startswith(kind + ".") for t in event_types)
        taken = taken or (change == "purged" and SIGHTING in event_types)
        return taken and (event.status == "actual" or bool(wanted.get("include_exercise")))
    if "*" not in event_types and event.type not in event_types:
        return False
    if event.status != "actual" and not wanted.get("include_exercise"):
        return False
    if event.kind not in RECORD_KINDS:
        return True  # news about the agency's own webhooks or the registry: no place, no severity
    categories = wanted.get("categories")
    if categories and event.kind == "alert" and event.category not in categories:
        return False
    if wanted.get("min_severity") and event.severity_rank < SEVERITY_RANK[wanted["min_severity"]]:
        return False
    countries = wanted.get("sender_countries")
    if countries and event.sender_country not in countries:
        return False
    if wanted.get("bbox") and not _in_bbox(event.lon, event.lat, wanted["bbox"]):
        return False
    area = wanted.get("area")
    return not area or _in_polygon(event.lon, event.lat, area["coordinates"])


def _in_bbox(lon: float, lat: float, bbox: list[float]) -> bool:
    min_lon, min_lat, max_lon, max_lat = bbox
    if not min_lat <= lat <= max_lat:
        return False
    if min_lon <= max_lon:
        return min_lon <= lon <= max_lon
    return lon >= min_lon or lon <= max_lon  # across the antimeridian


def _in_polygon(lon: float, lat: float, rings: list[list[list[float]]]) -> bool:
    """Inside the outline and outside every hole (even-odd ray casting, planar)."""
    return _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, r) for r in rings[1:])


def _in_ring(x: float, y: float, ring: list[list[float]]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside
