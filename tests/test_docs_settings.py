"""docs/OPERATOR.md lists every setting of core/settings.py once, with its true default."""

import re
from pathlib import Path
from typing import Any

from core.settings import Settings

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "OPERATOR.md"
ROW = re.compile(r"^\| `(RILON_[A-Z_]+)` \| ([^|]+) \|", re.MULTILINE)


def documented() -> dict[str, str]:
    return {name: default.strip() for name, default in ROW.findall(GUIDE.read_text())}


def test_each_setting_has_one_row() -> None:
    names = [name for name, _ in ROW.findall(GUIDE.read_text())]
    assert sorted({name for name in names if names.count(name) > 1}) == [], "a setting listed twice"


def shown(value: Any) -> str:
    """How the guide writes a default: JSON-ish literals in backticks, or a dash for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict | list):
        return f"`{'{}' if isinstance(value, dict) else '[]'}`"
    return f"`{value}`"


def test_every_setting_is_in_the_operator_guide() -> None:
    rows = documented()
    expected = {f"RILON_{name.upper()}" for name in Settings.model_fields}
    assert sorted(expected - rows.keys()) == [], "settings missing from docs/OPERATOR.md"
    assert sorted(rows.keys() - expected) == [], "docs/OPERATOR.md lists unknown settings"


def test_documented_defaults_are_the_real_ones() -> None:
    rows = documented()
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        cell = rows[f"RILON_{name.upper()}"]
        assert cell.startswith(shown(default)), f"RILON_{name.upper()}: {cell!r} vs {default!r}"
