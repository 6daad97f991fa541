"""`rilon audit`: verify, anchor and export the hash-chained trail."""

import re
from typing import Annotated

import typer
from sqlmodel import Session

from cli.shared import read_once, time_or_exit, usage, walk_once
from core.progress import progress
from core.walks import Progress
from services.audit import listing, trail

audit_app = typer.Typer(help="The audit trail", no_args_is_help=True)
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH printed earlier by `rilon audit head`, kept outside"),
    ] = None,
) -> None:
    """Walk the hash chain; exit 1 naming the first bad seq on any tampering."""
    pinned = None
    if anchor is not None:
        seq, _, digest = anchor.partition(":")
        digest = digest.lower()
        # a typo must not read as a broken chain: the hash is 64 hex digits, as `head` prints it
        if not (seq.isascii() and seq.isdigit()) or not HEX_DIGEST.fullmatch(digest):
            usage("--anchor is SEQ:HASH, as `rilon audit head` prints it")
        pinned = (int(seq), digest)

    def walk(session: Session, _report: Progress) -> trail.Verdict:
        with progress("verifying the audit chain", listing.count(session)) as shown:
            return trail.verify(session, pinned, on_checked=shown.update)

    verdict = walk_once(walk)
    if verdict.ok:
        typer.echo(f"ok: {verdict.checked} events, head {verdict.head_hash}")
        return
    typer.echo(f"BROKEN at seq {verdict.first_bad_seq} ({verdict.checked} events verified)")
    raise typer.Exit(1)


@audit_app.command("head")
def audit_head() -> None:
    """Print SEQ:HASH of the newest event, to anchor outside the database."""
    seq, digest = read_once(trail.head)
    typer.echo(f"{seq}:{digest}")


@audit_app.command("export")
def audit_export(
    since: Annotated[str | None, typer.Option(help="RFC 3339 time with a zone")] = None,
    output: Annotated[typer.FileTextWrite, typer.Option("--output", "-o")] = "-",  # type: ignore[assignment]
) -> None:
    """Write the trail (from --since) as JSON lines."""
    moment = time_or_exit("--since", since) if since else None

    def write_all(session: Session, _report: Progress) -> int:
        count = 0
        with progress("exporting the audit trail", listing.count(session, moment)) as shown:
            for line in listing.export(session, moment):
                output.write(line + "\n")
                count += 1
                shown.advance()
        return count

    count = walk_once(write_all)
    typer.echo(f"{count} events exported", err=True)
