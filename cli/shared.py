"""Helpers every `rilon` command uses: settings without tracebacks, a one-off read."""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlmodel import Session

from core.db import Database
from core.settings import Settings, get_settings
from core.walks import Walk
from models.envelope import RFC3339

T = TypeVar("T")


def settings_or_exit() -> Settings:
    """The settings, or a one-line error per bad variable (never a traceback with values)."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            typer.echo(f"error: RILON_{name}: {message}" if name else f"error: {message}", err=True)
        raise typer.Exit(2) from None
    except SettingsError as exc:  # a list or table setting that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"RILON_{field.group(1).upper()}" if field else "a RILON_ setting"
        usage(f"{name}: not valid JSON")


def usage(message: str) -> NoReturn:
    """Refuse what the operator typed, in one line, changing nothing."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def keys_or_exit(settings: Settings) -> None:
    """Read (in dev, make) the signing and secrets keys before serving: a missing directory or
    a spoilt key file stops the start in one line, not in a worker's traceback."""
    try:
        settings.signing_keys()
        settings.secrets_key_bytes()
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def code_or_exit(what: str, text: str) -> str:
    """A registry code upper-cased, refused if it is not ASCII: `str.upper` turns some other
    letters into ASCII ones ('ſe' into 'SE', 'ß' into 'SS'), creating a code nobody typed."""
    if not text.isascii():
        usage(f"{what} {text!r} is not ASCII")
    return text.upper()


def time_or_exit(option: str, text: str) -> datetime:
    """An RFC 3339 time with a zone, in UTC; else one line saying what was expected."""
    if not RFC3339.match(text):
        usage(f"{option} is an RFC 3339 time with a zone, e.g. 2027-06-01T00:00:00Z")
    try:
        return datetime.fromisoformat(text.replace("z", "Z")).astimezone(UTC)
    except (ValueError, OverflowError):  # 2027-02-30, or past the calendar once in UTC
        usage(f"{option} {text} is not a time the calendar holds")


def open_database(settings: Settings) -> Database:
    return Database(settings.database_url, timeout=settings.db_timeout_seconds)


def read_once(unit: Callable[[Session], T]) -> T:
    db = open_database(settings_or_exit())
    try:
        return db.run_read(unit)
    finally:
        db.close()


def walk_once(walk: Walk[T]) -> T:
    """Run a long read (a walk of a whole table) on a connection of its own that holds no
    transaction between its chunks: a running service's writers never wait on it."""
    db = open_database(settings_or_exit())
    try:
        return db.walks.run_sync(walk)
    finally:
        db.close()
