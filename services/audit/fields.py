"""Every audit field cleaned and clamped to its column, whatever the request held.

Paths, ids, client ids and addresses reach the trail from outside. Unclean, a NUL makes
PostgreSQL refuse the row (and, batched, its neighbours'), a 12,000-character path sits in the
permanent chain, and a bidi override makes a row read differently to an auditor than it hashes.
"""

import unicodedata
from typing import Any

from core.jsontext import dumps_sorted
from models.tables import AUDIT

# SQLModel's strings are AutoString, a TypeDecorator over String: read the length itself
SIZES = {
    column.name: length
    for column in AUDIT.columns
    if (length := getattr(column.type, "length", None)) is not None
}
UNSHOWN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, bidi, surrogates, line seps
REPLACEMENT = "\ufffd"  # shows the auditor that something was there
SPACES = str.maketrans("\t\n\r", "   ")
# The longest honest detail is a list page's record ids (500 × 36 characters); anything
# longer is junk, kept as its size only.
DETAIL_MAX_CHARS = 32_768


def clean(value: str) -> str:
    """Control, format (bidi), surrogate, unassigned and line-separator characters replaced;
    tabs and line breaks made spaces."""
    if value.isprintable():  # the common case, and a fast one
        return value
    return "".join(
        REPLACEMENT if unicodedata.category(char) in UNSHOWN else char
        for char in value.translate(SPACES)
    )


def fitted(column: str, value: str | None) -> str | None:
    """`value` cleaned and cut to `column`'s size."""
    if value is None:
        return None
    size = SIZES.get(column)
    return clean(value[:size] if size else value)


def detail_json(detail: dict[str, Any]) -> str:
    """The detail as canonical JSON: every string in it cleaned, its size bounded."""
    text = dumps_sorted(_cleaned(detail))
    if len(text) > DETAIL_MAX_CHARS:
        return dumps_sorted({"truncated": True, "chars": len(text)})
    return text


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(key)): _cleaned(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        try:  # a list of clean strings (a page's ids), the common case, at C speed
            if "".join(value).isprintable():
                return value
        except TypeError:  # not only strings
            pass
        return [_cleaned(item) for item in value]
    return value
