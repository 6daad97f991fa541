"""Query and path parameters, checked once for every documented endpoint.

A query parameter the route does not declare is refused: a misspelt filter (`?sever1ty=extreme`)
that were ignored would answer with everything, and the duty officer would believe the filter
worked. One check compares the request's query keys with what the matched route declares
through all its dependencies. Control characters in any query or path value are refused too,
as in request bodies: PostgreSQL cannot even compare a string holding NUL.

The check runs where FastAPI validates parameters itself: after authentication, so a caller
without a good token gets 401 whatever its query. An app-wide dependency runs it for the
routes that take no token; `authenticate` (api/deps.py) for the others.
"""

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from pydantic import BaseModel

from core.errors import Unprocessable
from models.inputs import FORBIDDEN

SEQUENCES = (list, tuple, set, frozenset)


def ignores_unknown_query() -> None:
    """Mark a route that must ignore query parameters it does not know (a dependency that
    does nothing): the token endpoint, as RFC 6749 §3.2 requires."""


@dataclass(frozen=True)
class Declared:
    names: frozenset[str]
    repeatable: frozenset[str]  # list-typed: may be given more than once
    secured: bool  # takes a token: checked once the caller is authenticated
    lenient: bool  # marked with `ignores_unknown_query`


# by id: routes are unhashable; each is kept beside its entry, so its id is never reused
_declared: dict[int, tuple[APIRoute, Declared]] = {}


def declared_query(dependant: Dependant) -> Declared:
    """The query parameters a route declares, itself and through its dependencies."""
    names: set[str] = set()
    repeatable: set[str] = set()
    secured = lenient = False
    pending = [dependant]
    while pending:
        current = pending.pop()
        secured = secured or isinstance(current.call, SecurityBase)
        lenient = lenient or current.call is ignores_unknown_query
        for field in current.query_params:
            annotation = field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names.update(inner.alias or name for name, inner in annotation.model_fields.items())
                continue
            names.add(field.alias)
            if get_origin(annotation) in SEQUENCES:
                repeatable.add(field.alias)
        pending.extend(current.dependencies)
    return Declared(frozenset(names), frozenset(repeatable), secured, lenient)


def _problem(key: str, declared: Declared) -> dict[str, str]:
    field = f"query.{key}"  # named as FastAPI names the query parameters it validates
    if key in declared.names:
        return {"field": field, "message": "given more than once; give it once"}
    if not key:
        return {"field": field, "message": "a query parameter without a name"}
    message = "unknown query parameter"
    close = difflib.get_close_matches(key, sorted(declared.names), n=1, cutoff=0.7)
    if close:
        message += f"; did you mean {close[0]}?"
    return {"field": field, "message": message}


def _controls(where: str, values: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    found = []
    for name, value in values:
        bad = FORBIDDEN.search(value)
        if bad is not None:
            code = f"U+{ord(bad.group()):04X}"
            found.append(
                {"field": f"{where}.{name}", "message": f"character {code} is not allowed"}
            )
    return found


def _declared_by(route: APIRoute) -> Declared:
    cached = _declared.get(id(route))
    if cached is None:
        cached = _declared[id(route)] = (route, declared_query(route.dependant))
    return cached[1]


def _documented(request: Request) -> APIRoute | None:
    """The matched API route; not the browser pages (docs, console, the OAuth2 redirect),
    which take what they get."""
    route = request.scope.get("route")
    return route if isinstance(route, APIRoute) and route.include_in_schema else None


def check_parameters(request: Request) -> None:
    """422 naming every parameter holding a control character, and every query parameter the
    route does not take (or takes once, given twice)."""
    route = _documented(request)
    if route is None:
        return
    declared = _declared_by(route)
    if declared.lenient:
        return
    controls = [
        *_controls("path", request.path_params.items()),
        *_controls("query", request.query_params.multi_items()),
    ]
    if controls:
        raise Unprocessable(controls)
    if not request.query_params:
        return
    counts = Counter(key for key, _value in request.query_params.multi_items())
    wrong = [
        key
        for key, count in counts.items()
        if key not in declared.names or (count > 1 and key not in declared.repeatable)
    ]
    if wrong:
        raise Unprocessable([_problem(key, declared) for key in wrong])


async def refuse_bad_parameters(request: Request) -> None:
    """The app-wide dependency: checks the routes that take no token (the others are checked
    by `authenticate`, once the caller is known)."""
    route = _documented(request)
    if route is not None and not _declared_by(route).secured:
        check_parameters(request)
