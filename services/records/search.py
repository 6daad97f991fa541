"""Text search: one normal form for what is stored and what is asked, so every word of `q`
is found whatever its case, accents or apostrophes, on SQLite and PostgreSQL alike.

The normal form: Unicode NFKD, accents (Latin, Greek, Cyrillic diacritics) dropped, `đ` read
as `d` and the like, casefolded, apostrophes removed (`Cox's` is `coxs`), and the punctuation
that closes or brackets a word read as a space. Hyphens, slashes, `%` and `_` stay inside a
word: `BDCG-2026-07` is one word, and `%` or `_` in `q` are matched as themselves.
"""

import re
import unicodedata

MAX_WORDS = 8
MAX_LENGTH = 200

# Combining diacritical marks (the accents NFKD splits off); other scripts' vowel signs stay.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Letters NFKD keeps whole that readers type without their stroke.
_LETTERS = str.maketrans("đĐðÐøØłŁħĦıŀĿŧŦ", "ddddoollhhilltt")
# One table for what goes (apostrophes) and what parts words (brackets, quotes, punctuation);
# whitespace parts them too, in `str.split`. Most text is ASCII, and a bytes table reads it
# ~50 times as fast as a str table (PERFORMANCE.md, B1: the regular expressions these tables
# replace took 40 of the 50 µs an alert's text took).
_APOSTROPHES = "'\u2018\u2019\u02bc\u02bb`\u00b4"
_BRACKETS = ',;!?()[]{}<>"\u201c\u201d\u00ab\u00bb\u2039\u203a\u3001\u3002'
_PARTS = str.maketrans(dict.fromkeys(_APOSTROPHES, "") | dict.fromkeys(_BRACKETS, " "))
_ASCII_GONE = "".join(c for c in _APOSTROPHES if c.isascii()).encode()
_ASCII_BRACKETS = "".join(c for c in _BRACKETS if c.isascii()).encode()
_ASCII_PARTS = bytes.maketrans(_ASCII_BRACKETS, b" " * len(_ASCII_BRACKETS))
_STOPS = ".:"  # closing a word, not inside it: `BDCG-2026.07:` is `bdcg-2026.07`


def normalise(text: str) -> str:
    """Words separated by single spaces, in the normal form above."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = _ACCENTS.sub("", text).translate(_LETTERS)
    text = text.casefold()
    if text.isascii():
        text = text.encode().translate(_ASCII_PARTS, _ASCII_GONE).decode()
    else:
        text = text.translate(_PARTS)
    stripped = (word.rstrip(_STOPS) for word in text.split())
    return " ".join(word for word in stripped if word)


def words(q: str) -> list[str]:
    """The distinct words of a query, in order."""
    return list(dict.fromkeys(normalise(q).split()))


def like_pattern(word: str) -> str:
    """A LIKE pattern finding `word` anywhere, its `%`, `_` and `/` (the escape) literal."""
    escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def problems(q: str) -> list[str]:
    """Why `q` cannot be searched for, if it cannot."""
    if len(q) > MAX_LENGTH:
        return [f"at most {MAX_LENGTH} characters"]
    found = words(q)
    if not found:
        return ["needs a word to search for"]
    if len(found) > MAX_WORDS:
        return [f"at most {MAX_WORDS} words; every word must match"]
    return []
