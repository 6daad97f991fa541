"""Compact JSON text, as records, events, payloads and audit rows are stored and sent.

orjson writes it: the stdlib's encoder took ~17 us a record, a few per cent of a POST
(docs/PERFORMANCE.md, B1). For strings, integers, booleans, null, lists and objects the two
write the same bytes (tests/test_jsontext.py); floats may differ in form (`1e-05` against
`0.00001`), both valid JSON of the same number. What orjson refuses (an integer beyond 64 bits,
a lone surrogate) the stdlib writes, as before.
"""

import json
from typing import Any

import orjson


def dumps(doc: dict[str, Any]) -> str:
    try:
        return orjson.dumps(doc).decode()
    except TypeError:
        return stdlib_dumps(doc)


def stdlib_dumps(doc: dict[str, Any]) -> str:
    """The stdlib's form, floats included, as `dumps` wrote before orjson: for a text kept and
    compared across releases (an Idempotency-Key's fingerprint), whatever the encoder."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def dumps_sorted(doc: dict[str, Any]) -> str:
    """`dumps` with the keys sorted, as the audit chain hashes a row. Its rows hold strings,
    integers and null only, so the bytes are the stdlib's, and chains written before verify."""
    try:
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
