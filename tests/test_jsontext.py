"""JSON text is written by orjson (core/jsontext.py), and what was written before by the
stdlib still holds: audit chains verify, Idempotency-Key fingerprints match, and whatever
orjson refuses is written as before."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.jsontext import dumps, dumps_sorted
from models.audit import GENESIS_HASH
from services.audit import trail
from services.audit.fields import DETAIL_MAX_CHARS, detail_json
from services.records import idempotency

# Every JSON value but floats: any character but a lone surrogate (which orjson refuses)
TEXT = st.text(st.characters(exclude_categories=["Cs"]))
LEAVES = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | TEXT
VALUES = st.recursive(
    LEAVES, lambda inner: st.lists(inner) | st.dictionaries(TEXT, inner), max_leaves=25
)


def _stdlib(doc: Any, sort: bool = False) -> str:
    return json.dumps(doc, sort_keys=sort, separators=(",", ":"), ensure_ascii=False)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(TEXT, VALUES))
def test_without_floats_the_text_is_the_stdlibs_byte_for_byte(doc: dict[str, Any]) -> None:
    assert dumps(doc) == _stdlib(doc)
    assert dumps_sorted(doc) == _stdlib(doc, sort=True)


def test_what_orjson_refuses_the_stdlib_writes() -> None:
    for doc in ({"n": 2**64}, {"n": -(2**63) - 1}, {"s": "a\ud800b"}, {1: "key not a string"}):
        assert dumps(doc) == _stdlib(doc)  # type: ignore[arg-type]
        assert dumps_sorted(doc) == _stdlib(doc, sort=True)  # type: ignore[arg-type]


def test_a_float_keeps_its_value() -> None:
    for number in (1e-05, 0.1, 12.5, -0.0, 1e16, 5.778101217778e-09, 97.123456789):
        assert json.loads(dumps({"x": number}))["x"] == number


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {name: st.none() | TEXT for name in trail.CANONICAL_FIELDS if name not in ("seq", "at")}
        | {"seq": st.integers(1, 2**62), "status_code": st.integers(100, 599)}
    )
)
def test_an_audit_row_hashes_as_chains_written_before_orjson(row: dict[str, Any]) -> None:
    """The chain's form is fixed by the rows already written: `rilon audit verify` must pass
    on a database written by any earlier release."""
    row = {**row, "at": datetime(2026, 12, 5, 4, 0, 0, 123456, tzinfo=UTC)}
    values = {name: row[name] for name in trail.CANONICAL_FIELDS} | {"at": row["at"].isoformat()}
    before = hashlib.sha256((GENESIS_HASH + _stdlib(values, sort=True)).encode()).hexdigest()
    assert trail.chain_hash(GENESIS_HASH, row) == before


def test_an_idempotency_fingerprint_is_the_one_made_before_orjson() -> None:
    """A retry across an upgrade must still match its first POST, floats and all."""
    payload = {"title": "Überfüllt", "area": {"lat": 1e-05, "lon": 97.5}, "n": 2**70}
    before = hashlib.sha256(_stdlib(payload).encode()).hexdigest()
    assert idempotency.fingerprint(payload) == before


def test_an_audit_detail_is_cleaned_compact_json_or_its_size() -> None:
    """A detail is stored as compact sorted JSON, characters as they are (cleaned of controls
    and bidi overrides); one over `DETAIL_MAX_CHARS` is kept as its size only."""
    detail = {"path": "/v1/Überfüllt\u202e\x00", "ids": ["a", "b"]}
    assert detail_json(detail) == '{"ids":["a","b"],"path":"/v1/Überfüllt\ufffd\ufffd"}'
    junk = {"ids": ["x" * 100] * (DETAIL_MAX_CHARS // 100)}
    size = len(_stdlib(junk))
    assert json.loads(detail_json(junk)) == {"chars": size, "truncated": True}
