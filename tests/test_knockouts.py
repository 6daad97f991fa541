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


@pytest.mark.parametrize(
    ("knockouts", "rows", "error"),
    [
        ("from-log", "delivry", "no row delivry"),
        ("from-log", "delivery,atempt", "no row atempt"),
        ("no-settle", "delivery", "from-log knock-out only"),
    ],
)
def test_knockout_rows_misspelt_or_misplaced_are_refused(
    knockouts: str,
    rows: str,
    error: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A name `KNOCKOUT_ROWS` does not know would be read as no row at all, and its figure
    taken for another's: the command refuses it before any worktree is made."""
    monkeypatch.setenv("KNOCKOUT_ROWS", rows)
    monkeypatch.setattr(knockout, "_git", _no_worktree)
    with pytest.raises(SystemExit) as stopped:
        knockout.main([knockouts, "fanout"])
    assert stopped.value.code == 2
    assert error in capsys.readouterr().err


@pytest.mark.parametrize("rows", ["", "delivery", "delivery,attempt", "driver"])
def test_knockout_rows_it_knows_pass(rows: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOCKOUT_ROWS", rows)
    args, bench = knockout._parse(["from-log", "fanout", "--seconds", "5"])
    assert args.knockout == "from-log"
    assert bench == ["fanout", "--seconds", "5"]


def _no_worktree(*args: str) -> None:
    raise AssertionError(f"a worktree was begun: git {' '.join(args)}")
