"""Headers and query parameters of the record endpoints, parsed into what services take."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Header, Path, Query, Response
from pydantic import WithJsonSchema

from core.errors import PreconditionFailed, Unprocessable
from models.alerts import SEVERITY_RANK, Category, Severity
from models.envelope import Kind, Status, Timestamp
from models.vessels import parse_key
from services.records import search
from services.records.kinds import KindSpec
from services.records.reading import RecordFilter

JSON = "application/json"
IDEMPOTENCY_KEY = r"^[\x21-\x7e]+$"
ETAG = r'^\s*(\*|(W/)?"[0-9]{1,18}")\s*$'
# A header is there or not; it is never null. Documented as a plain optional string (FastAPI
# would say "string or null", and a client taking that at its word sends the text `null`).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=IDEMPOTENCY_KEY,
        description="Retrying with the same key and body returns the first result",
    ),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 200, "pattern": IDEMPOTENCY_KEY}
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=ETAG,
        description='The ETag you last saw, e.g. `"3"`: 412 if stale',
    ),
    WithJsonSchema({"type": "string", "pattern": ETAG}),
]
RecordId = Annotated[UUID, Path(description="Record id")]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size, 1 to 200")]
Cursor = Annotated[
    str | None, Query(max_length=100, description="`next_cursor` of the previous page")
]
CASE_ID = r"^[\w.:/-]+$"  # as records' `case_id`


def json_response(
    text: str, status: int = 200, version: int | None = None, **headers: str
) -> Response:
    if version is not None:
        headers["ETag"] = f'"{version}"'
    return Response(content=text, status_code=status, media_type=JSON, headers=headers)


def parse_if_match(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    tag = value.strip().removeprefix("W/").strip('"')
    if not (tag.isascii() and tag.isdigit()):
        raise PreconditionFailed('If-Match must be an ETag of this API, e.g. "3"')
    return int(tag)


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in value.split(","))
    except ValueError as exc:
        raise Unprocessable(
            [{"field": "bbox", "message": "bbox is minLon,minLat,maxLon,maxLat"}]
        ) from exc
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180) or not (
        -90 <= min_lat <= max_lat <= 90
    ):
        raise Unprocessable([{"field": "bbox", "message": "bbox outside WGS-84 ranges"}])
    return min_lon, min_lat, max_lon, max_lat


def vessel_filter(named: dict[str, str | None]) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """The vessel keys of `?mmsi=&imo=&call_sign=`, and what is wrong with any of them."""
    keys, errors = [], []
    for prefix, value in named.items():
        if value is None:
            continue
        try:
            keys.append(parse_key(f"{prefix}:{value}"))
        except ValueError as exc:
            field = "query.call_sign" if prefix == "callsign" else f"query.{prefix}"
            errors.append({"field": field, "message": str(exc)})
    return tuple(keys), errors


def filter_dependency(spec: KindSpec) -> Any:
    States: Any = Literal[spec.states]  # documented as an enum of this kind's states

    async def record_filter(
        category: Annotated[
            Category | None,
            Query(description="Alerts only", include_in_schema=spec.kind == Kind.ALERT),
        ] = None,
        severity: Annotated[
            Severity | None,
            Query(
                description="Minimum severity; distress reports rank by SAR phase "
                "(distress = extreme, alert = severe, uncertainty = moderate)"
            ),
        ] = None,
        state: Annotated[States | None, Query(description=" | ".join(spec.states))] = None,
        status: Annotated[
            Status,
            Query(
                description="`actual` by default; `exercise` or `test` lists that traffic instead"
            ),
        ] = Status.ACTUAL,
        sender_country: Annotated[
            str | None,
            Query(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. `BD`"),
        ] = None,
        bbox: Annotated[
            str | None,
            Query(description="minLon,minLat,maxLon,maxLat", examples=["88,5,100,22"]),
        ] = None,
        updated_since: Annotated[
            Timestamp | None, Query(description="RFC 3339 with a time zone")
        ] = None,
        q: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=search.MAX_LENGTH,
                description="Text search: every word must match (at most "
                f"{search.MAX_WORDS}), ignoring case, accents and apostrophes; "
                "`cox bazar` finds Cox's Bazar, `ha tien` finds Hà Tiên",
                examples=["teknaf trawler"],
            ),
        ] = None,
        case_id: Annotated[
            str | None, Query(max_length=64, pattern=CASE_ID, description="Records of one case")
        ] = None,
        mmsi: Annotated[
            str | None, Query(pattern=r"^[0-9]{9}$", description="Naming this MMSI")
        ] = None,
        imo: Annotated[
            str | None, Query(pattern=r"^[0-9]{7}$", description="Naming this IMO")
        ] = None,
        call_sign: Annotated[
            str | None, Query(max_length=30, description="Naming this call sign (any case)")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> RecordFilter:
        errors = []
        if category is not None and spec.kind != Kind.ALERT:
            errors.append({"field": "category", "message": "category filters alerts only"})
        if q is not None:
            errors += [{"field": "query.q", "message": m} for m in search.problems(q)]
        named = {"mmsi": mmsi, "imo": imo, "callsign": call_sign}
        keys, key_errors = vessel_filter(named)
        errors += key_errors
        if errors:
            raise Unprocessable(errors)
        return RecordFilter(
            category=category.value if category else None,
            min_severity_rank=SEVERITY_RANK[severity.value] if severity else None,
            state=state,
            status=status.value,
            sender_country=sender_country,
            bbox=parse_bbox(bbox) if bbox is not None else None,
            updated_since=updated_since,
            q=q,
            case_id=case_id,
            vessel_keys=keys,
            limit=limit,
            cursor=cursor,
        )

    return record_filter
