"""The knock-outs behind docs/PERFORMANCE.md's bounds still apply to the code they describe
(bench/knockout.py): a patch that no longer applies would leave those figures unreproducible."""

import shutil
import subprocess
from pathlib import Path

import pytest

from bench import knockout

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs a git checkout"
)
@pytest.mark.parametrize("name", knockout.knockouts())
def test_each_knockout_applies_to_this_tree(name: str) -> None:
    patch = knockout.PATCHES / f"{name}.patch"
    done = subprocess.run(
        ["git", "apply", "--check", str(patch)], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "KNOCK-OUT" in patch.read_text()  # every knocked-out line says so where it stands


def test_the_knockouts_are_there() -> None:
    assert knockout.knockouts() == [
        "bare-read",
        "from-log",
        "no-audit",
        "no-read",
        "no-render",
        "no-settle",
    ]
