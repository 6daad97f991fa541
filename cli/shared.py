"""Helpers every `rilon` command uses: settings without tracebacks, a one-off read."""

from collections.abc import Callable
from typing import TypeVar

import typer
from pydantic import ValidationError
from sqlmodel import Session

from core.db import Database
from core.settings import Settings, get_settings
from core.walks import Walk

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
