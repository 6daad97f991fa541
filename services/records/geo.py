"""GeoJSON (RFC 7946) views of records: [lon, lat] order."""

import json
from typing import Any


def feature(doc_text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(doc_text)
    point = doc.get("location") or doc["position"]
    return {
        "type": "Feature",
        "id": doc["id"],
        "geometry": {"type": "Point", "coordinates": [point["lon"], point["lat"]]},
        "properties": doc,
    }


def feature_collection(docs: list[str], next_cursor: str | None) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [feature(doc) for doc in docs],
        "next_cursor": next_cursor,
    }
