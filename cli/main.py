"""The `rilon` command: run the service and administer it from the operator's shell."""

import asyncio
import getpass
import logging
import logging.config
import os
import signal
from typing import Annotated, ParamSpec, TypeVar

import prometheus_client
import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from cli.audit import audit_app
from cli.retention import retention_app
from cli.shared import code_or_exit, keys_or_exit, open_database, settings_or_exit
from core import logs
from core.db import UnitOf
from core.errors import RilonError
from core.heap import freeze_startup_objects
from core.metrics import Metrics, clear_multiprocess_dir
from core.migrations import BrokenReferences, upgrade
from core.progress import progress
from core.settings import Settings, get_settings
from delivery.dispatcher import build as build_dispatcher
from delivery.telemetry import BacklogCollector
from models.enums import AgencyType, Role
from models.registry import AgencyCreate, ClientCreate, CountryCreate
from services.audit import trail
from services.registry import demo, members

T = TypeVar("T")
P = ParamSpec("P")
# How long a uvicorn worker may go without answering its supervisor before it is killed and
# replaced: starting up included (see `serve`).
WORKER_HEALTHCHECK_SECONDS = 30
PORTS = {"min": 1, "max": 65535}  # past it the socket layer wraps the number round silently
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
app.add_typer(audit_app, name="audit")
app.add_typer(retention_app, name="retention")


def _write(action: str, unit: UnitOf[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `unit(session, *args, **kwargs)` in its own transaction, with its audit row (actor
    `cli`, action `cli <action>`)."""
    db = open_database(settings_or_exit())

    def with_audit(session: Session) -> T:
        result = unit(session, *args, **kwargs)
        entry = trail.Entry(
            action=f"cli {action}",
            outcome="success",
            status_code=0,
            actor_client="cli",
            ip=None,
            detail={"user": getpass.getuser()},
        )
        trail.append(session, entry)
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
    port: Annotated[int, typer.Option(help="Port to listen on", **PORTS)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
    access_log: Annotated[
        bool, typer.Option(help="One log line per request (method, route, status, duration)")
    ] = True,
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
    # Read by every uvicorn worker, and by this process, which may have read them already.
    if not dispatcher:
        os.environ["RILON_DISPATCHER"] = "false"
    if not access_log:
        os.environ["RILON_ACCESS_LOG"] = "false"
    get_settings.cache_clear()
    settings = settings_or_exit()
    keys_or_exit(settings)  # made here, once, before the workers that read them
    config = logs.log_config(settings.log_style(), settings.log_level)
    logging.config.dictConfig(config)
    clear_multiprocess_dir()
    upgrade(settings.database_url)
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
        # uvicorn's 5 s default killed workers still starting on a loaded machine, and their
        # replacements, for ever (tests/test_serve_workers.py); a wedged one is still caught.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        access_log=False,  # its line carries the raw query string; rilon.access logs instead
        log_config=config,  # applied again in each worker process uvicorn starts
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration up to head (safe to repeat)."""
    upgrade(settings_or_exit().database_url)
    typer.echo("database at head")


@countries_app.command("create")
def countries_create(code: str, name: str) -> None:
    """Register a member country by its ISO 3166-1 alpha-2 code."""
    data = CountryCreate(code=code_or_exit("country", code), name=name)
    try:
        _write("countries create", members.create_country, data)
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
    data = AgencyCreate(
        code=code_or_exit("agency", code),
        name=name,
        country=code_or_exit("--country", country),
        type=type,
    )
    try:
        _write("agencies create", members.create_agency, data)
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
        code = code_or_exit("agency", agency)
        created = _write("clients create", members.create_client, None, code, data)
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
    settings = settings_or_exit()
    if settings.env == "prod":
        typer.echo("error: refusing to seed demo data with RILON_ENV=prod", err=True)
        raise typer.Exit(1)
    with progress("migrating the database") as shown:
        upgrade(settings.database_url)
        shown.start("seeding the demo network", len(demo.CLIENTS))
        credentials = _write("demo", demo.seed, on_client=shown.advance)
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
def worker(
    metrics_port: Annotated[
        int, typer.Option(help="Serve Prometheus metrics on this port (0: none)", min=0, max=65535)
    ] = 0,
    metrics_host: Annotated[str, typer.Option(help="Address for the metrics port")] = "0.0.0.0",
) -> None:
    """Send webhooks: expand events, claim due deliveries, deliver, retry. Run several on
    PostgreSQL; they share the work without double claiming. Stops cleanly on SIGTERM."""
    settings = settings_or_exit()
    keys_or_exit(settings)
    logs.configure(settings.log_style(), settings.log_level)
    asyncio.run(_work(settings, metrics_host, metrics_port))


async def _work(settings: Settings, metrics_host: str, metrics_port: int) -> None:
    db = open_database(settings)
    db.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics = Metrics()
    if metrics_port:
        metrics.add_collectors([BacklogCollector(db)])
        prometheus_client.start_http_server(metrics_port, metrics_host, registry=metrics.exposed)
    logging.getLogger("rilon.worker").info("dispatching webhooks")
    freeze_startup_objects()
    try:
        await build_dispatcher(settings, db, metrics).run(stop)
    finally:
        db.close()


def main() -> None:
    """The `rilon` command. What an operator typed or set wrong, or a database that does not
    answer, ends it in one line (exit 2 for arguments, 1 for the database), never a traceback
    that hides the reason in its last line and may show values."""
    try:
        app()
    except ValidationError as exc:  # an argument the registry's rules refuse
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            typer.echo(f"error: {where}: {error['msg']}", err=True)
        raise SystemExit(2) from None
    except RilonError as exc:  # e.g. DatabaseUnavailable from a read
        typer.echo(f"error: {exc.detail}", err=True)
        raise SystemExit(1) from None
    except (OperationalError, InterfaceError) as exc:  # the database down while migrating
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        typer.echo(f"error: the database at RILON_DATABASE_URL failed: {reason}", err=True)
        raise SystemExit(1) from None
    except BrokenReferences as exc:  # a migration rolled back
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except OSError as exc:  # e.g. a SQLite file in a directory that is not there
        typer.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        raise SystemExit(1) from None
