"""Imports run one way (DESIGN.md): api, cli → delivery → services → auth → models, core.

Nothing imports upward; `services/` never reaches into `delivery/`, `auth/` knows no service."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RANK = {"api": 4, "cli": 4, "delivery": 3, "services": 2, "auth": 1, "models": 0, "core": 0}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found & RANK.keys()


def test_no_module_imports_upward() -> None:
    upward = []
    for package, rank in RANK.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for imported in _imports(path):
                if imported != package and RANK[imported] >= rank:
                    upward.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert upward == []
