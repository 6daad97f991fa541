"""What differs between alerts and distress reports, so the rest of the code need not branch."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import alerts, distress
from models.alerts import SEVERITY_RANK, AlertCreate
from models.distress import PHASE_RANK, DistressCreate
from models.envelope import Envelope, Kind
from services.records.search import normalise


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    path: str
    create: type[Envelope]
    states: tuple[str, ...]
    final_event: str
    extras: dict[str, Any]
    columns: Callable[[dict[str, Any]], dict[str, Any]]
    examples: dict[str, Any]  # request bodies shown in /docs, in reading order
    happened: tuple[tuple[str, ...], ...]  # times of what happened: never in the future

    @property
    def initial_state(self) -> str:
        return self.states[0]

    @property
    def final_state(self) -> str:
        return self.states[1]


def _words(*values: Any) -> str:
    return normalise(" ".join(str(v) for v in values if v))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _alert_columns(doc: dict[str, Any]) -> dict[str, Any]:
    vessels = doc["vessels"]
    return {
        "category": doc["category"],
        "severity_rank": SEVERITY_RANK[doc["severity"]],
        "lat": doc["location"]["lat"],
        "lon": doc["location"]["lon"],
        "position_at": _time(doc["observed_at"]),
        "search_text": _words(
            doc["headline"],
            doc["description"],
            doc["place_name"],
            doc["sea_area"],
            doc["case_id"],
            *doc["labels"],
            *(v.get(f) for v in vessels for f in ("name", "markings", "call_sign", "mmsi", "imo")),
        ),
    }


def _distress_columns(doc: dict[str, Any]) -> dict[str, Any]:
    vessel = doc["vessel"] or {}
    return {
        "category": None,
        "severity_rank": PHASE_RANK[doc["sar_phase"]],
        "lat": doc["position"]["lat"],
        "lon": doc["position"]["lon"],
        "position_at": _time(doc["position"]["fix_time"]),
        "search_text": _words(
            doc["case_id"],
            doc["actions_taken"],
            doc["weather_on_scene"],
            *doc["labels"],
            *doc["assistance_required"],
            *doc["nature_of_distress"],
            *(vessel.get(f) for f in ("name", "markings", "call_sign", "mmsi", "imo")),
        ),
    }


ALERTS = KindSpec(
    kind=Kind.ALERT,
    path="alerts",
    create=AlertCreate,
    states=("active", "cancelled", "expired"),
    final_event="cancelled",
    extras={"cancel_reason": None},
    columns=_alert_columns,
    examples=alerts.OPENAPI_EXAMPLES,
    happened=(("observed_at",),),
)
DISTRESS = KindSpec(
    kind=Kind.DISTRESS,
    path="distress-reports",
    create=DistressCreate,
    states=("open", "closed"),
    final_event="closed",
    extras={"sitrep_number": 1, "outcome": None, "close_note": None},
    columns=_distress_columns,
    examples=distress.OPENAPI_EXAMPLES,
    happened=(("position", "fix_time"),),
)
SPECS = {Kind.ALERT: ALERTS, Kind.DISTRESS: DISTRESS}
