"""Long commands show progress on a terminal, on stderr, and nothing of it through a pipe."""

import json
import os
import pty
import subprocess
import threading
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.processes import RILON, child_env

ESC = "\x1b"  # every cursor move, colour or redraw of a progress bar starts with it


def test_captured_output_has_results_and_no_progress(cli_env: CliRunner) -> None:
    demo = cli_env.invoke(app, ["demo"])
    assert demo.exit_code == 0, demo.output
    assert "Demo network ready" in demo.output
    verify = cli_env.invoke(app, ["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert verify.output.startswith("ok: 1 events")
    export = cli_env.invoke(app, ["audit", "export"])
    assert export.exit_code == 0
    assert "1 events exported" in export.output
    for result in (demo, verify, export):
        assert ESC not in result.output
        for words in ("migrating the database", "seeding the demo", "verifying", "exporting"):
            assert words not in result.output


def _run(args: list[str], env: dict[str, str], cwd: Path, stderr_tty: bool) -> tuple[str, str]:
    """Run `rilon`, stdout through a pipe, stderr a pipe or a pseudo-terminal."""
    if not stderr_tty:
        done = subprocess.run(
            [RILON, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [RILON, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=follower
    )
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:  # a pty's buffer is small: read while the command runs
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the command exited and closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    stdout, _ = proc.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(leader)
    assert proc.returncode == 0
    return stdout.decode(), b"".join(chunks).decode(errors="replace")


def test_progress_goes_to_a_terminal_stderr_only(database_url: str, tmp_path: Path) -> None:
    env = child_env(database_url, tmp_path)
    out, err = _run(["demo"], env, tmp_path, stderr_tty=False)
    assert "Demo network ready" in out
    assert ESC not in out + err
    out, err = _run(["demo"], env, tmp_path, stderr_tty=True)
    assert "Demo network ready" in out
    assert ESC not in out
    assert "seeding the demo network" in err

    for tty in (False, True):
        out, err = _run(["audit", "export"], env, tmp_path, stderr_tty=tty)
        lines = out.splitlines()
        assert len(lines) == 2  # two `cli demo` rows, nothing else on stdout
        assert all(json.loads(line)["action"] == "cli demo" for line in lines)
        assert "2 events exported" in err
        assert ("exporting the audit trail" in err) is tty
        assert (ESC in err) is tty
        out, err = _run(["audit", "verify"], env, tmp_path, stderr_tty=tty)
        assert out.startswith("ok: 2 events")
        assert ("verifying the audit chain" in err) is tty
