"""`rilon retention purge`: replace expired records by tombstones, or list what would go."""

import getpass
from datetime import datetime
from typing import Annotated

import typer

from cli.shared import open_database, settings_or_exit, time_or_exit
from core.clock import iso, utcnow
from core.db import Database
from core.progress import progress
from services.records import purging

retention_app = typer.Typer(help="Retention of records", no_args_is_help=True)
PAGE = 500


def _list_due(db: Database, when: datetime) -> int:
    """Print the records a purge as of `when` would take, a page at a time; return how many."""
    typer.echo(f"{'id':<36}  {'kind':<8}  {'sender':<12}  retain_until")
    listed = 0
    after: purging.Due | None = None  # the last record listed: the next page starts past it
    while True:
        page = db.run_read(purging.due, when, PAGE, after)
        for due in page:
            line = f"{due.id:<36}  {due.kind:<8}  {due.sender_agency:<12}  "
            typer.echo(line + iso(due.retain_until))
        listed += len(page)
        if len(page) < PAGE:
            return listed
        after = page[-1]


@retention_app.command("purge")
def retention_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be purged; change nothing")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Purge what will have expired by this RFC 3339 time (default: now)",
        ),
    ] = None,
) -> None:
    """Purge every record past its `retain_until` and not on legal hold: its content becomes a
    tombstone everywhere it was copied, partners get `*.purged`, the audit trail a row each.
    Safe to interrupt and to run beside the service and its workers: each record goes whole,
    once."""
    when = utcnow() if as_of is None else time_or_exit("--as-of", as_of)
    db = open_database(settings_or_exit())
    try:
        if dry_run:
            listed = _list_due(db, when)
            typer.echo(f"{listed} records would be purged as of {iso(when)} (dry run)")
            return
        total = db.run_read(purging.count_due, when)
        purged = 0
        actor = f"cli:{getpass.getuser()}"[:64]
        with progress("purging expired records", total) as shown:
            while True:
                done = db.run_write(purging.purge_due, when, utcnow(), actor=actor)
                purged += done
                shown.advance(done)
                if done == 0:
                    break
        db.checkpoint()
        typer.echo(f"purged {purged} records expired by {iso(when)}")
    finally:
        db.close()
