"""Compact JSON text, as records, events and payloads are stored and sent."""

import json
from typing import Any


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
