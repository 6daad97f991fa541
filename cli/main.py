"""The `rilon` command: run the service and administer it from the operator's shell."""

import asyncio
import getpass
import os
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from sqlmodel import Session

from core.db import Database
from core.errors import RilonError
from core.migrations import upgrade
from core.settings import Settings, get_settings
from delivery.dispatcher import build as build_dispatcher
from models.enums import AgencyType, Role
from models.registry import AgencyCreate, ClientCreate, CountryCreate
from services import audit, audit_reads, demo, registry

T = TypeVar("T")
app = typer.Typer(
    help="RILON Liaison API",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
countries_app = typer.Typer(help="Member countries", no_args_is_help=True)
agencies_app = typer.Typer(help="Agencies", no_args_is_help=True)
clients_app = typer.Typer(help="API clients", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(countries_app, name="countries")
app.add_typer(agencies_app, name="agencies")
app.add_typer(clients_app, name="clients")
audit_app = typer.Typer(help="The audit trail", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _settings() -> Settings:
    """The settings, or a one-line error per bad variable (never a traceback with values)."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            typer.echo(f"error: RILON_{name}: {message}" if name else f"error: {message}", err=True)
        raise typer.Exit(2) from None


def _database(settings: Settings) -> Database:
    return Database(settings.database_url, timeout=settings.db_timeout_seconds)


def _write(unit: Callable[[Session], T], action: str) -> T:
    """Run one unit of work in its own transaction, with its audit row (actor `cli`)."""
    db = _database(_settings())

    def with_audit(session: Session) -> T:
        result = unit(session)
        entry = audit.Entry(
            action=f"cli {action}",
            outcome="success",
            status_code=0,
            actor_client="cli",
            ip=None,
            detail={"user": getpass.getuser()},
        )
        audit.append(session, entry)
        return result

    try:
        return db.run_write(with_audit)
    finally:
        db.close()


def _fail(exc: RilonError) -> None:
    typer.echo(f"error: {exc.detail}", err=True)
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
    access_log: Annotated[bool, typer.Option(help="uvicorn's access log on stderr")] = False,
    dispatcher: Annotated[
        bool, typer.Option(help="Send webhooks from this process (off: run `rilon worker`s)")
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For is"
            " believed, so the audit trail names the caller and not the proxy"
        ),
    ] = None,
) -> None:
    """Migrate the database to head, then serve the API."""
    if not dispatcher:
        os.environ["RILON_DISPATCHER"] = "false"  # read by every uvicorn worker
        get_settings.cache_clear()  # and by this process, which may have read them already
    upgrade(_settings().database_url)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Off unless the proxies are named: anyone else could forge the address audited.
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        access_log=access_log,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration up to head (safe to repeat)."""
    upgrade(_settings().database_url)
    typer.echo("database at head")


@countries_app.command("create")
def countries_create(code: str, name: str) -> None:
    """Register a member country by its ISO 3166-1 alpha-2 code."""
    data = CountryCreate(code=code.upper(), name=name)
    try:
        _write(lambda session: registry.create_country(session, data), "countries create")
    except RilonError as exc:
        _fail(exc)
    typer.echo(f"country {data.code} created")


@agencies_app.command("create")
def agencies_create(
    code: str,
    name: Annotated[str, typer.Option(help="Full name")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code")],
    type: Annotated[AgencyType, typer.Option(help="Kind of agency")],
) -> None:
    """Register an agency."""
    data = AgencyCreate(code=code.upper(), name=name, country=country.upper(), type=type)
    try:
        _write(lambda session: registry.create_agency(session, data), "agencies create")
    except RilonError as exc:
        _fail(exc)
    typer.echo(f"agency {data.code} created")


@clients_app.command("create")
def clients_create(
    agency: str,
    name: Annotated[str, typer.Option(help="What the client is for")],
    role: Annotated[list[Role], typer.Option(help="Role to grant (repeat for several)")],
) -> None:
    """Create an API client and print its secret (shown this once)."""
    data = ClientCreate(name=name, roles=role)
    try:
        created = _write(
            lambda session: registry.create_client(session, None, agency.upper(), data),
            "clients create",
        )
    except RilonError as exc:
        _fail(exc)
        return
    typer.echo(f"client_id:     {created.client_id}")
    typer.echo(f"client_secret: {created.client_secret}")
    typer.echo("The secret is shown this once; store it now.")


@app.command("demo")
def demo_seed(
    base_url: Annotated[str, typer.Option(help="Where the service will answer")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """Seed a demo network of Bali Process members and print its clients' credentials."""
    settings = _settings()
    if settings.env == "prod":
        typer.echo("error: refusing to seed demo data with RILON_ENV=prod", err=True)
        raise typer.Exit(1)
    upgrade(settings.database_url)
    credentials = _write(demo.seed, "demo")
    typer.echo(
        "Demo network ready: BD ID LK MY TH VN, 24 agencies, a few alerts and a distress case."
        " Demo clients:\n"
    )
    typer.echo(f"  {'client_id':<24} {'agency':<12} {'roles':<16} client_secret")
    for cred in credentials:
        typer.echo(
            f"  {cred.client_id:<24} {cred.agency:<12} {','.join(cred.roles):<16} "
            f"{cred.client_secret}"
        )
    first = next(c for c in credentials if "duty_officer" in c.roles)
    typer.echo("\nSecrets are new on every run of `rilon demo`. Get a token with:\n")
    typer.echo(
        f"  curl -s -u {first.client_id}:{first.client_secret} "
        f"-d grant_type=client_credentials {base_url}/v1/auth/token\n"
    )
    typer.echo(f"or press Authorize at {base_url}/docs with any client above.")


@app.command()
def worker() -> None:
    """Send webhooks: expand events, claim due deliveries, deliver, retry. Run several on
    PostgreSQL; they share the work without double claiming. Stops cleanly on SIGTERM."""
    settings = _settings()
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    db = _database(settings)
    db.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    typer.echo("rilon worker: dispatching webhooks", err=True)
    try:
        await build_dispatcher(settings, db).run(stop)
    finally:
        db.close()


def _read(unit: Callable[[Session], T]) -> T:
    db = _database(_settings())
    try:
        return db.run_read(unit)
    finally:
        db.close()


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
        if not seq.isdigit() or len(digest) != 64:
            typer.echo("error: --anchor is SEQ:HASH", err=True)
            raise typer.Exit(2)
        pinned = (int(seq), digest)
    verdict = _read(lambda session: audit.verify(session, pinned))
    if verdict.ok:
        typer.echo(f"ok: {verdict.checked} events, head {verdict.head_hash}")
        return
    typer.echo(f"BROKEN at seq {verdict.first_bad_seq} ({verdict.checked} events verified)")
    raise typer.Exit(1)


@audit_app.command("head")
def audit_head() -> None:
    """Print SEQ:HASH of the newest event, to anchor outside the database."""
    seq, digest = _read(audit.head)
    typer.echo(f"{seq}:{digest}")


@audit_app.command("export")
def audit_export(
    since: Annotated[str | None, typer.Option(help="RFC 3339 time with a zone")] = None,
    output: Annotated[typer.FileTextWrite, typer.Option("--output", "-o")] = "-",  # type: ignore[assignment]
) -> None:
    """Write the trail (from --since) as JSON lines."""
    moment = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
    if moment is not None and moment.tzinfo is None:
        typer.echo("error: --since needs a time zone", err=True)
        raise typer.Exit(2)

    def write_all(session: Session) -> int:
        count = 0
        for line in audit_reads.export(session, moment):
            output.write(line + "\n")
            count += 1
        return count

    count = _read(write_all)
    typer.echo(f"{count} events exported", err=True)


def main() -> None:
    app()
