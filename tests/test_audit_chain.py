"""Tampering with the chain, in any way, is caught and the first bad seq named."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app as cli
from core.clock import utcnow
from core.db import Database
from core.settings import get_settings
from models.audit import GENESIS_HASH
from models.tables import AUDIT
from services.audit import trail

LENGTH = 12


@pytest.fixture
def chained(db: Database) -> Database:
    def fill(session: Session) -> None:
        for n in range(LENGTH):
            trail.append(
                session,
                trail.Entry(
                    action=f"GET /v1/alerts/{n}",
                    outcome="success",
                    status_code=200,
                    actor_client="c",
                    actor_agency="TH-MECC",
                    actor_country="TH",
                    detail={"n": n},
                ),
            )

    db.run_write(fill)
    return db


def _tamper(session: Session, how: str, k: int) -> int:
    """Apply one kind of tampering at seq k; return the seq verify must name."""
    run = session.connection().execute
    if how == "edit":
        run(text("UPDATE audit_event SET action = 'GET /v1/nothing' WHERE seq = :k"), {"k": k})
        return k
    if how == "delete":
        run(text("DELETE FROM audit_event WHERE seq = :k"), {"k": k})
        return k
    if how == "swap":  # two neighbours exchange places (and numbers)
        run(text("UPDATE audit_event SET seq = -1 WHERE seq = :k"), {"k": k})
        run(text("UPDATE audit_event SET seq = :k WHERE seq = :n"), {"k": k, "n": k + 1})
        run(text("UPDATE audit_event SET seq = :n WHERE seq = -1"), {"n": k + 1})
        return k
    if how == "insert":  # a forged row, correctly hashed onto its predecessor, pushed in at k
        for seq in range(LENGTH, k - 1, -1):
            run(text("UPDATE audit_event SET seq = :s WHERE seq = :o"), {"s": seq + 1, "o": seq})
        prev = run(text("SELECT hash FROM audit_event WHERE seq = :p"), {"p": k - 1}).scalar()
        prev_hash = prev or GENESIS_HASH
        row = dict(
            run(text("SELECT * FROM audit_event WHERE seq = :s"), {"s": k + 1}).mappings().one()
        )
        row.update(seq=k, id=f"forged-{k}", action="GET /v1/forged", prev_hash=prev_hash)
        row["at"] = utcnow()
        row["hash"] = trail.chain_hash(prev_hash, row)
        run(AUDIT.insert(), row)
        return k + 1
    raise AssertionError(how)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    how=st.sampled_from(["edit", "delete", "swap", "insert"]),
    k=st.integers(min_value=1, max_value=LENGTH - 1),
)
def test_any_tampering_is_caught(chained: Database, how: str, k: int) -> None:
    with Session(chained.write_engine) as session:
        expected = _tamper(session, how, k)
        verdict = trail.verify(session)
        session.rollback()
    assert not verdict.ok
    assert verdict.first_bad_seq == expected


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(k=st.integers(min_value=1, max_value=LENGTH))
def test_truncation_after_an_anchor_is_caught(chained: Database, k: int) -> None:
    anchor = chained.run_read(trail.head)
    with Session(chained.write_engine) as session:
        session.connection().execute(text("DELETE FROM audit_event WHERE seq >= :k"), {"k": k})
        unanchored = trail.verify(session)
        anchored = trail.verify(session, anchor)
        session.rollback()
    assert unanchored.ok  # a shorter chain is still a chain ...
    assert not anchored.ok  # ... but not the one whose head was exported
    assert anchored.first_bad_seq == k


def test_untouched_chain_verifies(chained: Database) -> None:
    verdict = chained.run_read(trail.verify)
    assert verdict.ok
    assert verdict.checked == LENGTH
    assert verdict.head_hash == chained.run_read(trail.head)[1]


def test_cli_verify_head_export(
    chained: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RILON_DATABASE_URL", database_url)
    monkeypatch.setenv("RILON_ENV", "test")
    get_settings.cache_clear()
    runner = CliRunner()
    head = runner.invoke(cli, ["audit", "head"])
    assert head.exit_code == 0
    anchor = head.output.strip()
    assert anchor.startswith(f"{LENGTH}:")
    ok = runner.invoke(cli, ["audit", "verify", "--anchor", anchor])
    assert ok.exit_code == 0, ok.output
    out = tmp_path / "trail.jsonl"
    exported = runner.invoke(cli, ["audit", "export", "--output", str(out)])
    assert exported.exit_code == 0
    assert len(out.read_text().splitlines()) == LENGTH
    with chained.write_engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET outcome = 'denied' WHERE seq = 5"))
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "seq 5" in broken.output
    get_settings.cache_clear()
